package reqsig

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxNonces is the capacity of a MemoryNonceStore when none is given:
// 1,000 signed requests a second for NonceLifetime, with room to spare, in
// under 100 MB when full.
const DefaultMaxNonces = 1 << 20

// nonceShards is the number of independently locked parts of a
// MemoryNonceStore.
const nonceShards = 64

// MemoryNonceStore is a NonceStore in process memory, for a single gateway
// process. It holds at most a fixed number of nonces and never forgets one
// before its time: when it is full of unexpired nonces it refuses new ones
// with ErrNonceStoreFull. Expired nonces are evicted as new ones arrive.
//
// It is split into independently locked shards, so concurrent requests
// rarely wait for each other. It keeps a 128-bit keyed hash of each
// principal and nonce rather than the strings: the chance that two live
// entries collide is negligible, and memory per entry is fixed (about 80
// bytes).
type MemoryNonceStore struct {
	max    int64
	now    func() time.Time
	seeds  [2]maphash.Seed
	n      atomic.Int64 // entries held across shards
	shards [nonceShards]nonceShard
}

type nonceKey [2]uint64

type nonceShard struct {
	mu    sync.Mutex
	live  map[nonceKey]int64 // key → expiry, Unix nanoseconds
	queue expiryHeap
	_     [64]byte // keep shards' locks on separate cache lines
}

// NewMemoryNonceStore returns an empty store that holds at most maxEntries
// nonces (DefaultMaxNonces if maxEntries ≤ 0) and reads the time from now
// (time.Now if nil) to decide which have expired.
func NewMemoryNonceStore(maxEntries int, now func() time.Time) *MemoryNonceStore {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxNonces
	}
	if now == nil {
		now = time.Now
	}
	s := &MemoryNonceStore{
		max:   int64(maxEntries),
		now:   now,
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
	}
	for i := range s.shards {
		s.shards[i].live = make(map[nonceKey]int64)
	}
	return s
}

// Remember implements NonceStore. A pair whose until has passed is not
// stored; an entry is forgotten once the store's clock reaches its until.
func (s *MemoryNonceStore) Remember(ctx context.Context, principal, nonce string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reqsig: nonce store: %w", err)
	}
	now := s.now().UnixNano()
	exp := unixNano(until)
	k := s.key(principal, nonce)
	sh := &s.shards[k[0]%nonceShards]

	sh.mu.Lock()
	s.evict(sh, now)
	if _, ok := sh.live[k]; ok {
		sh.mu.Unlock()
		return ErrReplay
	}
	if exp <= now {
		sh.mu.Unlock()
		return nil
	}
	if s.reserve() {
		sh.insert(k, exp)
		sh.mu.Unlock()
		return nil
	}
	sh.mu.Unlock()

	// Full: evict what has expired in every shard, then try once more.
	// Shards are locked one at a time, never two at once.
	for i := range s.shards {
		o := &s.shards[i]
		o.mu.Lock()
		s.evict(o, now)
		o.mu.Unlock()
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.live[k]; ok {
		return ErrReplay
	}
	if !s.reserve() {
		return fmt.Errorf("%w: %d unexpired nonces", ErrNonceStoreFull, s.max)
	}
	sh.insert(k, exp)
	return nil
}

// Len returns the number of nonces held, including expired ones not yet
// evicted.
func (s *MemoryNonceStore) Len() int { return int(s.n.Load()) }

// Cap returns the most nonces the store holds.
func (s *MemoryNonceStore) Cap() int { return int(s.max) }

func (s *MemoryNonceStore) key(principal, nonce string) nonceKey {
	var k nonceKey
	for i, seed := range s.seeds {
		var h maphash.Hash
		h.SetSeed(seed)
		var n [8]byte
		for j, l := 0, uint64(len(principal)); j < 8; j++ {
			n[j] = byte(l >> (8 * j))
		}
		h.Write(n[:])
		h.WriteString(principal)
		h.WriteString(nonce)
		k[i] = h.Sum64()
	}
	return k
}

// reserve claims room for one entry, or reports that there is none.
func (s *MemoryNonceStore) reserve() bool {
	for {
		n := s.n.Load()
		if n >= s.max {
			return false
		}
		if s.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// evict removes sh's entries that expired by now. sh.mu is held.
func (s *MemoryNonceStore) evict(sh *nonceShard, now int64) {
	var removed int64
	for len(sh.queue) > 0 && sh.queue[0].exp <= now {
		delete(sh.live, sh.queue.pop().key)
		removed++
	}
	if removed > 0 {
		s.n.Add(-removed)
	}
}

func (sh *nonceShard) insert(k nonceKey, exp int64) {
	sh.live[k] = exp
	sh.queue.push(expiry{exp: exp, key: k})
}

func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

type expiry struct {
	exp int64
	key nonceKey
}

// expiryHeap is a binary min-heap of a shard's entries by expiry.
type expiryHeap []expiry

func (h *expiryHeap) push(e expiry) {
	q := append(*h, e)
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if q[parent].exp <= q[i].exp {
			break
		}
		q[parent], q[i] = q[i], q[parent]
		i = parent
	}
	*h = q
}

func (h *expiryHeap) pop() expiry {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		least := i
		if l := 2*i + 1; l < len(q) && q[l].exp < q[least].exp {
			least = l
		}
		if r := 2*i + 2; r < len(q) && q[r].exp < q[least].exp {
			least = r
		}
		if least == i {
			break
		}
		q[i], q[least] = q[least], q[i]
		i = least
	}
	*h = q
	return top
}

var _ NonceStore = (*MemoryNonceStore)(nil)
