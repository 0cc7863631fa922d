package transport

import (
	"cmp"
	"slices"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/limiter"
)

// Snapshot is the state of a chain at one moment: the settings in force and
// what each layer knows of each host. It is meant for status pages, logs and
// demos; metrics report the same numbers to Prometheus.
type Snapshot struct {
	// Settings are the settings in force, every default filled in.
	Settings Settings
	// Hosts holds one entry per host some layer keeps state for, sorted by
	// host.
	Hosts []HostSnapshot
}

// HostSnapshot is what the chain's layers know of one host.
type HostSnapshot struct {
	// Host is the host as host:port, as in the metrics.
	Host string
	// Breaker is the state of the host's circuit breaker: its State, the
	// time left open, the outcomes in its window. Its zero value (Closed)
	// when the chain has no breaker or the breaker has not seen the host.
	Breaker breaker.HostStats
	// Limiter is the limiter's state for the host: its Limit (0, Unlimited,
	// while out of the way), the attempts InFlight and Waiting. Its zero
	// value when the chain has no limiter.
	Limiter limiter.HostStats
	// RetryBudget is the number of retries of failures the host's retry
	// budget holds.
	RetryBudget float64
}

// Snapshot returns the state of the chain. It takes each layer's per-host
// locks in turn, so it suits a status page or a once-a-second log line, not
// every request.
func (t *Transport) Snapshot() Snapshot {
	s := Snapshot{Settings: t.settings}
	byHost := map[string]*HostSnapshot{}
	get := func(host string) *HostSnapshot {
		h := byHost[host]
		if h == nil {
			h = &HostSnapshot{Host: host, RetryBudget: float64(t.settings.Retry.BudgetReserve)}
			byHost[host] = h
		}
		return h
	}
	for _, st := range t.retry.Stats() {
		get(st.Host).RetryBudget = st.Budget
	}
	if t.limiter != nil {
		for _, st := range t.limiter.Stats() {
			get(st.Host).Limiter = st
		}
	}
	if t.breaker != nil {
		for _, st := range t.breaker.Stats() {
			get(st.Host).Breaker = st
		}
	}
	for _, h := range byHost {
		s.Hosts = append(s.Hosts, *h)
	}
	slices.SortFunc(s.Hosts, func(a, b HostSnapshot) int { return cmp.Compare(a.Host, b.Host) })
	return s
}
