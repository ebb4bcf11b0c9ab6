// Package noncestoretest is the conformance suite for reqsig.NonceStore
// implementations: the in-memory store runs it, and so must any shared store
// (PostgreSQL, Redis) that replaces it. It is imported by tests only.
package noncestoretest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
)

// Clock is a settable clock for the store under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// NewStore returns an empty store, with room for at least 1,000 nonces, that
// decides expiry by now.
type NewStore func(t *testing.T, now func() time.Time) reqsig.NonceStore

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	start := time.Date(2026, 11, 25, 19, 22, 0, 0, time.UTC)
	setup := func(t *testing.T) (reqsig.NonceStore, *Clock) {
		c := NewClock(start)
		return newStore(t, c.Now), c
	}
	ctx := context.Background()

	t.Run("ReplayRefused", func(t *testing.T) {
		s, c := setup(t)
		until := c.Now().Add(reqsig.NonceLifetime)
		if err := s.Remember(ctx, "police.411528", "AAECAwQFBgcICQoLDA0ODw", until); err != nil {
			t.Fatalf("first use: %v", err)
		}
		err := s.Remember(ctx, "police.411528", "AAECAwQFBgcICQoLDA0ODw", until)
		if !errors.Is(err, reqsig.ErrReplay) {
			t.Fatalf("second use: got %v, want ErrReplay", err)
		}
	})

	t.Run("ScopedByPrincipal", func(t *testing.T) {
		s, c := setup(t)
		until := c.Now().Add(reqsig.NonceLifetime)
		for _, p := range []string{"police.411528", "court.411528", "police.4115281"} {
			if err := s.Remember(ctx, p, "AAECAwQFBgcICQoLDA0ODw", until); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
		// The pair is the key, not the concatenation.
		if err := s.Remember(ctx, "police.41152", "8AAECAwQFBgcICQoLDA0ODw", until); err != nil {
			t.Fatalf("shifted pair: %v", err)
		}
	})

	t.Run("RememberedUntilExpiry", func(t *testing.T) {
		s, c := setup(t)
		until := c.Now().Add(reqsig.NonceLifetime)
		if err := s.Remember(ctx, "hrss.411528", "n0000000000000000000000", until); err != nil {
			t.Fatal(err)
		}
		c.Advance(reqsig.NonceLifetime - time.Second)
		if err := s.Remember(ctx, "hrss.411528", "n0000000000000000000000", until); !errors.Is(err, reqsig.ErrReplay) {
			t.Fatalf("1 s before expiry: got %v, want ErrReplay", err)
		}
		c.Advance(time.Second)
		if err := s.Remember(ctx, "hrss.411528", "n0000000000000000000000", c.Now().Add(reqsig.NonceLifetime)); err != nil {
			t.Fatalf("at expiry: %v", err)
		}
	})

	t.Run("ConcurrentUseOnce", func(t *testing.T) {
		s, c := setup(t)
		until := c.Now().Add(reqsig.NonceLifetime)
		const n = 32
		for round := range 20 {
			nonce := fmt.Sprintf("concurrent-%02d-0000000000000", round)
			var ok, replay atomic.Int32
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					switch err := s.Remember(ctx, "medins.411528", nonce, until); {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, reqsig.ErrReplay):
						replay.Add(1)
					default:
						t.Errorf("unexpected error: %v", err)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 1 || replay.Load() != n-1 {
				t.Fatalf("round %d: %d accepted, %d replays; want 1 and %d", round, ok.Load(), replay.Load(), n-1)
			}
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s, c := setup(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := s.Remember(cctx, "court.411528", "AAECAwQFBgcICQoLDA0ODw", c.Now().Add(reqsig.NonceLifetime))
		if err == nil {
			t.Fatal("Remember with a canceled context succeeded")
		}
		if errors.Is(err, reqsig.ErrReplay) {
			t.Fatalf("canceled context reported as a replay: %v", err)
		}
	})
}
