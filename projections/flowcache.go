package projections

import (
	"sync"

	"github.com/factstore/factstore/domain"
)

// flowCacheSize bounds the decoded flow versions a store keeps.
const flowCacheSize = 4096

// flowCache keeps flows decoded from their stored events, by the event's
// sequence. A stored event never changes, so an entry never goes stale; the
// cache only saves every assert from decoding its flow again. Callers must
// not modify a cached flow.
type flowCache struct {
	mu sync.RWMutex
	m  map[uint64]*domain.Flow
}

func (c *flowCache) get(seq uint64) *domain.Flow {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[seq]
}

func (c *flowCache) put(seq uint64, f *domain.Flow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= flowCacheSize {
		// Flows are few; a full cache means churn, and starting over is
		// cheaper than tracking recency.
		c.m = make(map[uint64]*domain.Flow)
	}
	c.m[seq] = f
}

// reset forgets every entry (the read models were dropped).
func (c *flowCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}
