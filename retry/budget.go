package retry

import (
	"sync/atomic"

	"github.com/ebb-go/ebb/internal/cow"
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

// hosts holds the per-host state, bounded at maxHosts entries. Lookups,
// one per request, take no lock.
type hosts struct {
	m      cow.Map[verdict.Host, *hostState]
	ratio  float64
	reserv int
}

func (hs *hosts) get(h verdict.Host) *hostState {
	if s, ok := hs.m.Load(h); ok {
		return s
	}
	if hs.m.Len() >= maxHosts {
		hs.evict()
	}
	return hs.m.LoadOrStore(h, func(int) (*hostState, bool) {
		return &hostState{label: h.Label(), budget: newBudget(hs.ratio, hs.reserv)}, true
	})
}

// evict drops one host to make room: one whose budget is full, which carries
// no information, if there is one, else any. Go's map order makes the choice
// arbitrary.
func (hs *hosts) evict() {
	hs.m.Update(func(m map[verdict.Host]*hostState) {
		if len(m) < maxHosts {
			return
		}
		var victim verdict.Host
		for k, v := range m {
			victim = k
			if v.budget.milli.Load() >= v.budget.max {
				break
			}
		}
		delete(m, victim)
	})
}
