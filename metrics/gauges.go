package metrics

import (
	"sync"
	"weak"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/limiter"
	"github.com/prometheus/client_golang/prometheus"
)

// gauges is the collector of the gauges read at scrape time from the
// layers' own state (as collectors.NewDBStatsCollector reads db.Stats), so
// that the hot path pushes nothing. Chains sharing a registry share it; the
// values of a host that several chains reach are summed. It holds the
// layers weakly: a chain the program has let go of is neither kept alive by
// its registry nor counted in its gauges once collected.
type gauges struct {
	limit, inFlight, waiting, state *prometheus.Desc

	mu       sync.Mutex
	limiters []weak.Pointer[limiter.Transport]
	breakers []weak.Pointer[breaker.Transport]
}

func newGauges(ns string) *gauges {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, []string{"host"}, nil)
	}
	return &gauges{
		limit:    desc("limiter_limit", "The host's adaptive concurrency limit; 0 while the limit is out of the way."),
		inFlight: desc("limiter_in_flight", "Attempts holding a permit of the host's limiter."),
		waiting:  desc("limiter_waiting", "Attempts waiting for a permit of the host's limiter."),
		state:    desc("breaker_state", "State of the host's circuit breaker: 0 closed, 1 half-open, 2 open."),
	}
}

// WatchBreaker has the breaker's state (ebb_breaker_state) read from b at
// every scrape: the state a request would find then. b is held weakly: once
// the program no longer uses it, it leaves the gauge.
func (m *Metrics) WatchBreaker(b *breaker.Transport) {
	m.gauges.mu.Lock()
	defer m.gauges.mu.Unlock()
	m.gauges.breakers = append(m.gauges.breakers, weak.Make(b))
}

// WatchLimiter has the limiter's gauges (ebb_limiter_limit,
// ebb_limiter_in_flight, ebb_limiter_waiting) read from l at every scrape.
// l is held weakly: once the program no longer uses it, it leaves the
// gauges.
func (m *Metrics) WatchLimiter(l *limiter.Transport) {
	m.gauges.mu.Lock()
	defer m.gauges.mu.Unlock()
	m.gauges.limiters = append(m.gauges.limiters, weak.Make(l))
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.limit
	ch <- g.inFlight
	ch <- g.waiting
	ch <- g.state
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	var ls []*limiter.Transport
	var bs []*breaker.Transport
	g.limiters, ls = live(g.limiters)
	g.breakers, bs = live(g.breakers)
	g.mu.Unlock()
	g.collectBreakers(ch, bs)
	type sums struct{ limit, inFlight, waiting float64 }
	byHost := map[string]*sums{}
	var order []string
	for _, l := range ls {
		for _, st := range l.Stats() {
			s := byHost[st.Host]
			if s == nil {
				s = &sums{}
				byHost[st.Host] = s
				order = append(order, st.Host)
			}
			s.limit += float64(st.Limit)
			s.inFlight += float64(st.InFlight)
			s.waiting += float64(st.Waiting)
		}
	}
	for _, h := range order {
		s := byHost[h]
		ch <- prometheus.MustNewConstMetric(g.limit, prometheus.GaugeValue, s.limit, h)
		ch <- prometheus.MustNewConstMetric(g.inFlight, prometheus.GaugeValue, s.inFlight, h)
		ch <- prometheus.MustNewConstMetric(g.waiting, prometheus.GaugeValue, s.waiting, h)
	}
}

// live returns the pointers of ws whose layer is still in use, and those
// layers.
func live[T any](ws []weak.Pointer[T]) ([]weak.Pointer[T], []*T) {
	var out []*T
	kept := ws[:0]
	for _, w := range ws {
		if v := w.Value(); v != nil {
			kept = append(kept, w)
			out = append(out, v)
		}
	}
	clear(ws[len(kept):]) // let the dropped pointers go
	return kept, out
}

// collectBreakers reports each host's breaker state; a host that several
// chains reach reads the worst of their states.
func (g *gauges) collectBreakers(ch chan<- prometheus.Metric, bs []*breaker.Transport) {
	states := map[string]breaker.State{}
	var order []string
	for _, b := range bs {
		for _, st := range b.Stats() {
			old, seen := states[st.Host]
			if !seen {
				order = append(order, st.Host)
			}
			states[st.Host] = max(old, st.State)
		}
	}
	for _, h := range order {
		ch <- prometheus.MustNewConstMetric(g.state, prometheus.GaugeValue, float64(states[h]), h)
	}
}
