package hosts

import (
	"sync"
	"sync/atomic"

	"github.com/ebb-go/ebb/internal/readmap"
	"github.com/ebb-go/ebb/verdict"
)

// DefaultMax is the bound of a Table whose Max is zero.
const DefaultMax = 1024

// Table maps hosts to a value of type V per host. Configure its fields
// before first use; they must not change afterwards.
type Table[V any] struct {
	// Max bounds the hosts with an entry of their own; 0 means DefaultMax.
	Max int
	// New creates the value of a host from its folded label (host:port).
	New func(label string) *V
	// Retire reports whether a host's value may be forgotten now to make
	// room for another host and, if so, retires it: a caller that got the
	// value just before must be able to tell (a layer whose state must
	// not be used once forgotten marks it inside Retire, atomically with
	// its check). It is called with the table's lock held and must not
	// call back into the table. nil means entries are never forgotten.
	Retire func(*V) bool
	// Overflow returns the value of a host that finds the table full with
	// nothing idle; nil means such hosts get a nil value.
	Overflow func() *V

	last     atomic.Pointer[spelling[V]]
	spelt    atomic.Pointer[readmap.Map[verdict.Host, *spelling[V]]]
	overflow atomic.Pointer[V]

	mu      sync.Mutex
	entries map[string]*entry[V] // by label; guarded by mu
	nspelt  atomic.Int64
}

type entry[V any] struct {
	label string
	v     *V
	gone  atomic.Bool // forgotten: spellings that still point here look again
}

type spelling[V any] struct {
	key verdict.Host
	e   *entry[V]
}

// Get returns the value of host h, creating it on first use; see the
// package doc for what a full table returns.
func (t *Table[V]) Get(h verdict.Host) *V {
	if s := t.last.Load(); s != nil && s.key == h && !s.e.gone.Load() {
		return s.e.v
	}
	if m := t.spelt.Load(); m != nil {
		if s, ok := m.Load(h); ok && !s.e.gone.Load() {
			t.last.Store(s)
			return s.e.v
		}
	}
	return t.slow(h)
}

func (t *Table[V]) max() int {
	if t.Max > 0 {
		return t.Max
	}
	return DefaultMax
}

func (t *Table[V]) slow(h verdict.Host) *V {
	label := h.Label()
	t.mu.Lock()
	e := t.entries[label]
	if e == nil {
		if len(t.entries) >= t.max() && !t.evict() {
			t.mu.Unlock()
			v := t.overflowValue()
			if t.Retire == nil && v != nil {
				// Nothing is ever forgotten, so this host stays in
				// the overflow: remember it there, and spare its next
				// requests the folding.
				t.remember(h, &entry[V]{label: h.Label(), v: v})
			}
			return v
		}
		if t.entries == nil {
			t.entries = make(map[string]*entry[V])
		}
		e = &entry[V]{label: label, v: t.New(label)}
		t.entries[label] = e
	}
	t.mu.Unlock()
	t.remember(h, e)
	return e.v
}

// evict forgets one retired entry, reporting whether it found one. t.mu is
// held.
func (t *Table[V]) evict() bool {
	if t.Retire == nil {
		return false
	}
	for label, e := range t.entries {
		if t.Retire(e.v) {
			e.gone.Store(true)
			delete(t.entries, label)
			return true
		}
	}
	return false
}

func (t *Table[V]) overflowValue() *V {
	if t.Overflow == nil {
		return nil
	}
	if v := t.overflow.Load(); v != nil {
		return v
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if v := t.overflow.Load(); v != nil {
		return v
	}
	v := t.Overflow()
	t.overflow.Store(v)
	return v
}

// remember records the spelling h of e's host, forgetting every spelling
// once there are four times as many as the table's bound.
func (t *Table[V]) remember(h verdict.Host, e *entry[V]) {
	s := &spelling[V]{key: h, e: e}
	m := t.spelt.Load()
	if m == nil || t.nspelt.Load() >= int64(4*t.max()) {
		m = new(readmap.Map[verdict.Host, *spelling[V]])
		t.spelt.Store(m)
		t.nspelt.Store(0)
	}
	m.LoadOrStore(h, func(int) (*spelling[V], bool) {
		t.nspelt.Add(1)
		return s, true
	})
	t.last.Store(s)
}

// Range calls f for each host in the table with its label, in no order,
// until f returns false. It runs on a copy taken under the lock, so f may
// call back into the table.
func (t *Table[V]) Range(f func(label string, v *V) bool) {
	t.mu.Lock()
	list := make([]*entry[V], 0, len(t.entries))
	for _, e := range t.entries {
		list = append(list, e)
	}
	t.mu.Unlock()
	for _, e := range list {
		if !f(e.label, e.v) {
			return
		}
	}
}

// Len returns the number of hosts with an entry of their own.
func (t *Table[V]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
