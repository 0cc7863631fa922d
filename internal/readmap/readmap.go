package readmap

import (
	"sync"
	"sync/atomic"
)

// Map is a read-mostly map from K to V. See the package doc for its costs.
// A Map must not be copied after first use.
type Map[K comparable, V any] struct {
	read atomic.Pointer[map[K]V] // immutable once published

	mu      sync.Mutex
	dirty   map[K]V        // added since the snapshot; guarded by mu
	removed map[K]struct{} // in the snapshot but deleted; guarded by mu
	misses  int            // lookups that missed the snapshot since it was built

	// pendingRemovals is len(removed), readable without the lock.
	pendingRemovals atomic.Int64
}

// Load returns the value stored under k.
func (m *Map[K, V]) Load(k K) (V, bool) {
	if p := m.read.Load(); p != nil {
		if v, ok := (*p)[k]; ok {
			// A removed key may still be in the snapshot: look it up
			// under the lock only while something awaits removal.
			if m.pendingRemovals.Load() == 0 {
				return v, true
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.locked(k)
}

// locked looks k up with m.mu held, counting a miss of the snapshot.
func (m *Map[K, V]) locked(k K) (V, bool) {
	if _, gone := m.removed[k]; !gone {
		if p := m.read.Load(); p != nil {
			if v, ok := (*p)[k]; ok {
				return v, true
			}
		}
	}
	v, ok := m.dirty[k]
	if ok {
		m.miss()
	}
	return v, ok
}

// LoadOrStore returns the value stored under k. When there is none, it calls
// create, with m's lock held and the number of entries as argument, and
// stores the value it returns unless create reports false; either way that
// value is returned. create is called at most once, and never for a key
// already present.
func (m *Map[K, V]) LoadOrStore(k K, create func(n int) (V, bool)) V {
	if v, ok := m.Load(k); ok {
		return v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.locked(k); ok {
		return v
	}
	v, store := create(m.len())
	if !store {
		return v
	}
	if m.dirty == nil {
		m.dirty = make(map[K]V)
	}
	m.dirty[k] = v
	if _, gone := m.removed[k]; gone {
		// Re-added after a removal: the snapshot's stale value must not
		// win, so the rebuild happens now.
		m.promote()
	}
	return v
}

// Delete removes k.
func (m *Map[K, V]) Delete(k K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.dirty, k)
	if p := m.read.Load(); p != nil {
		if _, ok := (*p)[k]; ok {
			if m.removed == nil {
				m.removed = make(map[K]struct{})
			}
			m.removed[k] = struct{}{}
			m.pendingRemovals.Store(int64(len(m.removed)))
			m.miss()
		}
	}
}

// Len returns the number of entries.
func (m *Map[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.len()
}

func (m *Map[K, V]) len() int {
	n := len(m.dirty) - len(m.removed)
	if p := m.read.Load(); p != nil {
		n += len(*p)
	}
	return n
}

// Range calls f for every entry, in no order, until f returns false. It
// sees a snapshot taken when it starts; f may call the Map's methods.
func (m *Map[K, V]) Range(f func(K, V) bool) {
	m.mu.Lock()
	m.promote()
	p := m.read.Load()
	m.mu.Unlock()
	if p == nil {
		return
	}
	for k, v := range *p {
		if !f(k, v) {
			return
		}
	}
}

// Clear removes every entry.
func (m *Map[K, V]) Clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.read.Store(nil)
	m.dirty, m.removed, m.misses = nil, nil, 0
	m.pendingRemovals.Store(0)
}

// miss counts a lookup that the snapshot could not answer, and rebuilds
// the snapshot once the misses have paid for it. m.mu is held.
func (m *Map[K, V]) miss() {
	m.misses++
	if m.misses > m.len() {
		m.promote()
	}
}

// promote publishes a new snapshot holding every entry. m.mu is held.
func (m *Map[K, V]) promote() {
	m.misses = 0
	if len(m.dirty) == 0 && len(m.removed) == 0 {
		return
	}
	old := m.read.Load()
	n := len(m.dirty)
	if old != nil {
		n += len(*old)
	}
	next := make(map[K]V, n)
	if old != nil {
		for k, v := range *old {
			if _, gone := m.removed[k]; !gone {
				next[k] = v
			}
		}
	}
	for k, v := range m.dirty {
		next[k] = v
	}
	m.read.Store(&next)
	m.dirty, m.removed = nil, nil
	m.pendingRemovals.Store(0)
}
