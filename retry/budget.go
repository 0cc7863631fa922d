package retry

import (
	"sync"
	"sync/atomic"

	"github.com/ebb-go/ebb/verdict"
)

// budget is one host's retry budget: a token bucket in the spirit of gRPC's
// retry throttling, counted in thousandths of a token so that it is one
// atomic word. Every logical request deposits ratio tokens, every budgeted
// retry withdraws one, and the bucket holds at most reserve tokens. Over
// time, retries can add at most ratio times the host's traffic, plus the
// reserve once.
type budget struct {
	milli   atomic.Int64
	deposit int64 // per request, in thousandths
	max     int64 // in thousandths
}

func newBudget(ratio float64, reserve int) *budget {
	b := &budget{deposit: int64(ratio * 1000), max: int64(reserve) * 1000}
	b.milli.Store(b.max)
	return b
}

// request records a logical request. A full bucket is only read, so the
// happy path does not bounce the cache line between cores.
func (b *budget) request() {
	for {
		cur := b.milli.Load()
		if cur >= b.max {
			return
		}
		if b.milli.CompareAndSwap(cur, min(cur+b.deposit, b.max)) {
			return
		}
	}
}

// withdraw takes one retry from the budget, reporting false when there is
// not a whole token left.
func (b *budget) withdraw() bool {
	for {
		cur := b.milli.Load()
		if cur < 1000 {
			return false
		}
		if b.milli.CompareAndSwap(cur, cur-1000) {
			return true
		}
	}
}

// maxHosts bounds the per-host state; past it, the least useful entry goes.
const maxHosts = 1024

type hostState struct {
	label  string
	budget *budget
}

// hosts holds the per-host state, bounded at maxHosts entries.
type hosts struct {
	mu     sync.RWMutex
	m      map[verdict.Host]*hostState
	ratio  float64
	reserv int
}

func (hs *hosts) get(h verdict.Host) *hostState {
	hs.mu.RLock()
	s, ok := hs.m[h]
	hs.mu.RUnlock()
	if ok {
		return s
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if s, ok := hs.m[h]; ok {
		return s
	}
	if hs.m == nil {
		hs.m = make(map[verdict.Host]*hostState)
	}
	if len(hs.m) >= maxHosts {
		// A full budget carries no information; drop one of those first,
		// else any. Go's map order makes the choice arbitrary.
		victim, found := verdict.Host{}, false
		for k, v := range hs.m {
			if !found || v.budget.milli.Load() >= v.budget.max {
				victim, found = k, true
				if v.budget.milli.Load() >= v.budget.max {
					break
				}
			}
		}
		delete(hs.m, victim)
	}
	s = &hostState{label: h.Label(), budget: newBudget(hs.ratio, hs.reserv)}
	hs.m[h] = s
	return s
}
