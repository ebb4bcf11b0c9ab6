package gateway

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter holds one token bucket per principal. Only authenticated
// principals get a bucket, so there are at most as many as registered
// principals; an unused bucket is dropped once it has refilled.
type rateLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

func newRateLimiter(perSecond, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{
		limit:   rate.Limit(perSecond),
		burst:   burst,
		now:     now,
		buckets: make(map[string]*rate.Limiter),
	}
}

// allow takes one token of principal's bucket. If there is none it takes
// nothing and says how long until there will be one.
func (l *rateLimiter) allow(principal string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[principal]
	if b == nil {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[principal] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	l.sweep(now)
	return true, 0
}

// sweep drops full buckets, at most once a minute. l.mu is held.
func (l *rateLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for p, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, p)
		}
	}
}
