package retry

import "sync/atomic"

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

// full reports whether the bucket is full: it then carries nothing worth
// keeping, and the host may be forgotten.
func (b *budget) full() bool { return b.milli.Load() >= b.max }

// tokens returns the retries the bucket holds.
func (b *budget) tokens() float64 { return float64(b.milli.Load()) / 1000 }

// hostState is the layer's state for one host, kept in a hosts.Table.
type hostState struct {
	label  string
	budget *budget
}

func (t *Transport) newHost(label string) *hostState {
	return &hostState{label: label, budget: newBudget(t.policy.BudgetRatio, t.policy.BudgetReserve)}
}

// HostStats is what [Transport.Stats] reports of one host.
type HostStats struct {
	// Host is the host as host:port, or "other" for the hosts beyond the
	// layer's bound.
	Host string
	// Budget is the number of retries of failures the host's budget holds;
	// it is BudgetReserve while the host has not failed lately.
	Budget float64
}

// Stats returns the state of each host the layer keeps, in no order. Hosts
// whose budget is full may have been forgotten and are then not listed.
func (t *Transport) Stats() []HostStats {
	var out []HostStats
	t.hosts.Range(func(label string, h *hostState) bool {
		out = append(out, HostStats{Host: label, Budget: h.budget.tokens()})
		return true
	})
	return out
}
