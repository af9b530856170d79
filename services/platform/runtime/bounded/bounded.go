// Package bounded holds caches of a bounded size for values looked up on every request (verified
// identity tokens, signed ones, API keys), where a hit must stay a read lock and a map lookup and
// a hostile caller must not be able to grow the memory.
package bounded

import "sync"

// evictScan is how many entries an insert into a full map looks at for an expired one to drop
// before it drops an arbitrary one: a constant cost per insert, never a sweep of the map.
const evictScan = 8

// Map is a map of at most max entries, safe for concurrent use. When it is full, an insert evicts
// the expired entries among a few it looks at, or else the first of them; Go's map iteration
// starts at a random place, so that is a random entry. There is no recency order to maintain,
// which keeps a hit a read lock and a map lookup.
type Map[V any] struct {
	mu      sync.RWMutex
	max     int
	m       map[string]V
	expired func(V) bool
}

// NewMap returns a map of at most max entries (at least 1); expired tells an entry that may be
// dropped first.
func NewMap[V any](max int, expired func(V) bool) *Map[V] {
	if max < 1 {
		max = 1
	}
	return &Map[V]{max: max, m: make(map[string]V), expired: expired}
}

// Get returns the entry of k.
func (b *Map[V]) Get(k string) (V, bool) {
	b.mu.RLock()
	v, ok := b.m[k]
	b.mu.RUnlock()
	return v, ok
}

// Put sets the entry of k, evicting another when the map is full.
func (b *Map[V]) Put(k string, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[k]; !ok && len(b.m) >= b.max {
		b.evictLocked()
	}
	b.m[k] = v
}

// evictLocked drops the expired entries among the first evictScan of an iteration, or, when
// none is expired, the first entry seen.
func (b *Map[V]) evictLocked() {
	var first string
	seen, dropped := 0, false
	for k, v := range b.m {
		if seen == 0 {
			first = k
		}
		if b.expired(v) {
			delete(b.m, k)
			dropped = true
		}
		if seen++; seen >= evictScan {
			break
		}
	}
	if !dropped && seen > 0 {
		delete(b.m, first)
	}
}

// Delete drops the entry of k.
func (b *Map[V]) Delete(k string) {
	b.mu.Lock()
	delete(b.m, k)
	b.mu.Unlock()
}

// DeleteFunc drops every entry for which drop is true. It looks at every entry under the write
// lock: for rare events (a revocation), not for the request path.
func (b *Map[V]) DeleteFunc(drop func(k string, v V) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, v := range b.m {
		if drop(k, v) {
			delete(b.m, k)
		}
	}
}

// Len returns the number of entries.
func (b *Map[V]) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}
