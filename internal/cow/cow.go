package cow

import (
	"sync"
	"sync/atomic"
)

// Map is a copy-on-write map. The zero value is empty and ready to use; a
// Map must not be copied after first use. It is safe for concurrent use.
type Map[K comparable, V any] struct {
	mu sync.Mutex // serialises writers
	p  atomic.Pointer[map[K]V]
}

// Load returns the value stored under k.
func (m *Map[K, V]) Load(k K) (V, bool) {
	if p := m.p.Load(); p != nil {
		v, ok := (*p)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// Len returns the number of entries.
func (m *Map[K, V]) Len() int {
	if p := m.p.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// LoadOrStore returns the value under k; when there is none, it calls
// create under the write lock and stores its value, unless create reports
// false, in which case that value is returned without being stored. create
// is called at most once per call, and never for a key already present.
func (m *Map[K, V]) LoadOrStore(k K, create func(n int) (V, bool)) V {
	if v, ok := m.Load(k); ok {
		return v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.p.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	n := 0
	if old != nil {
		n = len(*old)
	}
	v, store := create(n)
	if !store {
		return v
	}
	next := make(map[K]V, n+1)
	if old != nil {
		for kk, vv := range *old {
			next[kk] = vv
		}
	}
	next[k] = v
	m.p.Store(&next)
	return v
}

// Update replaces the map with f's edit of a copy of it, under the write
// lock, for the rare writes that are not a plain insertion (evictions).
func (m *Map[K, V]) Update(f func(m map[K]V)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := make(map[K]V)
	if old := m.p.Load(); old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	f(next)
	m.p.Store(&next)
}

// Range calls f for each entry of a snapshot of the map, until f returns
// false.
func (m *Map[K, V]) Range(f func(K, V) bool) {
	p := m.p.Load()
	if p == nil {
		return
	}
	for k, v := range *p {
		if !f(k, v) {
			return
		}
	}
}
