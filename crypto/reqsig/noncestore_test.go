package reqsig_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qiao-exchange/qiao/crypto/reqsig"
	"github.com/qiao-exchange/qiao/crypto/reqsig/noncestoretest"
)

func TestMemoryNonceStoreConformance(t *testing.T) {
	noncestoretest.Run(t, func(_ *testing.T, now func() time.Time) reqsig.NonceStore {
		return reqsig.NewMemoryNonceStore(1000, now)
	})
}

func TestMemoryNonceStoreEviction(t *testing.T) {
	ctx := context.Background()
	clock := noncestoretest.NewClock(exampleTime)
	s := reqsig.NewMemoryNonceStore(1000, clock.Now)

	// 300 nonces a second apart, each remembered for 600 s.
	for i := range 300 {
		if err := s.Remember(ctx, "police.411528", fmt.Sprint("n", i), clock.Now().Add(reqsig.NonceLifetime)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	if s.Len() != 300 {
		t.Fatalf("Len %d, want 300", s.Len())
	}
	// At 600 s after the first, the first 1 has expired; at 700 s, 101.
	for _, tc := range []struct {
		at        time.Duration // since the first
		evicted   int
		oldest    string // still remembered
		forgotten string // remembered no more
	}{
		{600 * time.Second, 1, "n1", "n0"},
		{700 * time.Second, 101, "n101", "n100"},
		{899 * time.Second, 300, "", "n299"},
	} {
		clock.Advance(exampleTime.Add(tc.at).Sub(clock.Now()))
		// Any Remember evicts what expired in its shard; a full sweep runs
		// when the store is full. Touch every shard through the public API:
		// a replay check of every nonce still remembered.
		for i := range 300 {
			s.Remember(ctx, "police.411528", fmt.Sprint("n", i), clock.Now().Add(-time.Second))
		}
		if tc.oldest != "" {
			if err := s.Remember(ctx, "police.411528", tc.oldest, clock.Now().Add(time.Hour)); !errors.Is(err, reqsig.ErrReplay) {
				t.Errorf("at %v: %s: got %v, want ErrReplay", tc.at, tc.oldest, err)
			}
		}
		if got, want := s.Len(), 300-tc.evicted; got != want {
			t.Errorf("at %v: Len %d, want %d", tc.at, got, want)
		}
		if err := s.Remember(ctx, "police.411528", tc.forgotten, clock.Now().Add(-time.Second)); err != nil {
			t.Errorf("at %v: %s: got %v, want it forgotten", tc.at, tc.forgotten, err)
		}
	}
}

func TestMemoryNonceStoreCapacity(t *testing.T) {
	ctx := context.Background()
	clock := noncestoretest.NewClock(exampleTime)
	s := reqsig.NewMemoryNonceStore(3, clock.Now)
	if s.Cap() != 3 {
		t.Fatalf("Cap %d", s.Cap())
	}
	until := clock.Now().Add(reqsig.NonceLifetime)
	for i := range 3 {
		if err := s.Remember(ctx, "court.411528", fmt.Sprint("n", i), until); err != nil {
			t.Fatal(err)
		}
	}
	// Full of unexpired nonces: a new one is refused, a known one is still a replay.
	if err := s.Remember(ctx, "court.411528", "n3", until); !errors.Is(err, reqsig.ErrNonceStoreFull) {
		t.Fatalf("fourth nonce: got %v, want ErrNonceStoreFull", err)
	}
	if err := s.Remember(ctx, "court.411528", "n0", until); !errors.Is(err, reqsig.ErrReplay) {
		t.Fatalf("known nonce while full: got %v, want ErrReplay", err)
	}
	// A second before expiry, still full; at expiry, room again.
	clock.Advance(reqsig.NonceLifetime - time.Second)
	if err := s.Remember(ctx, "court.411528", "n3", until); !errors.Is(err, reqsig.ErrNonceStoreFull) {
		t.Fatalf("1 s before expiry: got %v, want ErrNonceStoreFull", err)
	}
	// Expired nonces are evicted lazily: from the new nonce's shard at
	// once, from every shard when the store is full. So three new nonces
	// fit, and a fourth does not.
	clock.Advance(time.Second)
	later := clock.Now().Add(reqsig.NonceLifetime)
	for _, n := range []string{"n3", "n4", "n5"} {
		if err := s.Remember(ctx, "court.411528", n, later); err != nil {
			t.Fatalf("%s after expiry: %v", n, err)
		}
	}
	if s.Len() != 3 {
		t.Fatalf("Len %d after the sweep, want 3", s.Len())
	}
	if err := s.Remember(ctx, "court.411528", "n6", later); !errors.Is(err, reqsig.ErrNonceStoreFull) {
		t.Fatalf("a fourth unexpired nonce: got %v, want ErrNonceStoreFull", err)
	}

	// The default capacity.
	if got := reqsig.NewMemoryNonceStore(0, nil).Cap(); got != reqsig.DefaultMaxNonces {
		t.Errorf("default Cap %d", got)
	}
}

func TestMemoryNonceStoreCapacityConcurrent(t *testing.T) {
	ctx := context.Background()
	clock := noncestoretest.NewClock(exampleTime)
	const max = 100
	s := reqsig.NewMemoryNonceStore(max, clock.Now)
	var ok, full atomic.Int32
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				switch err := s.Remember(ctx, "hrss.411528", fmt.Sprint(g, "-", i), clock.Now().Add(time.Minute)); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, reqsig.ErrNonceStoreFull):
					full.Add(1)
				default:
					t.Errorf("unexpected: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != max || full.Load() != 16*20-max || s.Len() != max {
		t.Fatalf("%d accepted, %d refused, %d held; want %d, %d, %d", ok.Load(), full.Load(), s.Len(), max, 16*20-max, max)
	}
}

func TestMemoryNonceStoreEdgeCases(t *testing.T) {
	ctx := context.Background()
	clock := noncestoretest.NewClock(exampleTime)
	s := reqsig.NewMemoryNonceStore(10, clock.Now)
	// A nonce whose until has passed is not stored.
	if err := s.Remember(ctx, "p", "n", clock.Now()); err != nil || s.Len() != 0 {
		t.Fatalf("until now: %v, Len %d", err, s.Len())
	}
	// Far-future and far-past times do not overflow.
	if err := s.Remember(ctx, "p", "far", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := s.Remember(ctx, "p", "far", clock.Now().Add(time.Hour)); !errors.Is(err, reqsig.ErrReplay) {
		t.Fatalf("far-future entry: %v", err)
	}
	if err := s.Remember(ctx, "p", "old", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || s.Len() != 1 {
		t.Fatalf("far-past entry: %v, Len %d", err, s.Len())
	}
	// Entries expire at their own until, whatever the order they came in.
	untils := []time.Duration{5, 1, 4, 2, 3}
	for i, d := range untils {
		if err := s.Remember(ctx, "q", fmt.Sprint(i), clock.Now().Add(d*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for m := time.Duration(1); m <= 5; m++ {
		clock.Advance(time.Minute)
		for i, d := range untils {
			// An until in the past probes without storing.
			err := s.Remember(ctx, "q", fmt.Sprint(i), clock.Now().Add(-time.Hour))
			if remembered := errors.Is(err, reqsig.ErrReplay); remembered != (d > m) {
				t.Errorf("after %d min, entry until %d min: remembered %v (%v)", m, d, remembered, err)
			}
		}
	}
}
