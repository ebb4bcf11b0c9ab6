package client

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Retry says how a call is retried when the gateway is unavailable
// (Unavailable), busy (ResourceExhausted, other than a message too large)
// or slow (DeadlineExceeded): exponential backoff with jitter, never
// shorter than a RetryInfo the gateway sends. Other refusals are final:
// retrying InvalidArgument, PermissionDenied or Unauthenticated cannot
// succeed. The zero value is the default.
type Retry struct {
	// Attempts is the most tries of one call: 8 when 0.
	Attempts int
	// Initial is the first backoff: 250 ms when 0. Each retry doubles it.
	Initial time.Duration
	// Max caps the backoff: 20 s when 0.
	Max time.Duration
	// CallTimeout bounds each try: CallTimeout when 0.
	CallTimeout time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 8
	}
	if r.Initial <= 0 {
		r.Initial = 250 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 20 * time.Second
	}
	if r.CallTimeout <= 0 {
		r.CallTimeout = CallTimeout
	}
	return r
}

// backoff is the wait before retry n (from 1): half of the exponential
// delay, plus a random part of the other half.
func (r Retry) backoff(n int) time.Duration {
	d := r.Initial
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	return d/2 + rand.N(d/2+1)
}

// retry calls fn until it succeeds, fails for good, or runs out of tries.
func (p *Pusher) retry(ctx context.Context, fn func(context.Context) error) error {
	r := p.opts.Retry
	for n := 1; ; n++ {
		cctx, cancel := context.WithTimeout(ctx, r.CallTimeout)
		err := fn(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		after, ok := retryable(err)
		if !ok || n >= r.Attempts {
			return err
		}
		if err := p.sleep(ctx, max(r.backoff(n), after)); err != nil {
			return err
		}
	}
}

// retryable reports whether err is worth retrying, and the least wait the
// gateway asked for.
func retryable(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	var after time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			after = ri.GetRetryDelay().AsDuration()
		}
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return after, true
	case codes.ResourceExhausted:
		if after == 0 && tooLarge(st.Message()) {
			return 0, false
		}
		return after, true
	}
	return 0, false
}

// tooLarge reports whether a ResourceExhausted message is about the size of
// the message rather than the gateway's load: retrying cannot help.
func tooLarge(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "larger than max") || strings.Contains(msg, "too large")
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
