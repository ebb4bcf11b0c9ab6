package merkle

import (
	"context"
	"fmt"
	"sync"
)

// MemoryHashes is a HashReader that keeps the stored hashes in memory: for
// an offline verifier that rebuilds a log from its entries, and for tests
// and benchmarks. A million leaves take about 34 MB. It is safe for
// concurrent use.
type MemoryHashes struct {
	mu     sync.RWMutex
	levels [][]Hash // levels[i] holds the hashes at level i·LevelStride, by index
}

// Add stores nodes, as Tree.Append returns them. Each node must be the next
// one at its level, so that the stored hashes have no gaps; a node out of
// that order, or at a level that is not stored, is refused and nothing after
// it is added.
func (m *MemoryHashes) Add(nodes ...Node) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range nodes {
		if n.ID.Level%LevelStride != 0 {
			return fmt.Errorf("merkle: node %v is not at a stored level", n.ID)
		}
		i := int(n.ID.Level / LevelStride)
		for len(m.levels) <= i {
			m.levels = append(m.levels, nil)
		}
		if n.ID.Index != uint64(len(m.levels[i])) {
			return fmt.Errorf("merkle: node %v added after %d nodes at its level", n.ID, len(m.levels[i]))
		}
		m.levels[i] = append(m.levels[i], n.Hash)
	}
	return nil
}

// ReadHashes implements HashReader.
func (m *MemoryHashes) ReadHashes(_ context.Context, ids []NodeID) ([]Hash, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Hash, len(ids))
	for k, id := range ids {
		i := int(id.Level / LevelStride)
		if id.Level%LevelStride != 0 || i >= len(m.levels) || id.Index >= uint64(len(m.levels[i])) {
			return nil, fmt.Errorf("%w: node %v", ErrNotStored, id)
		}
		out[k] = m.levels[i][id.Index]
	}
	return out, nil
}

var _ HashReader = (*MemoryHashes)(nil)
