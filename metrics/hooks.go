package metrics

import (
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/limiter"
)

// BreakerHooks returns the hooks through which the breaker layer reports its
// state changes and refusals. A host's state gauge exists (at 0, closed)
// from its first request on, so a dashboard lists healthy hosts too.
func (m *Metrics) BreakerHooks() breaker.Hooks {
	return breaker.Hooks{
		OnStateChange: func(host string, from, to breaker.State) {
			h := m.host(host)
			h.breakerState.Set(float64(to))
			m.breakerTransitions.WithLabelValues(h.label, from.String(), to.String()).Inc()
		},
		OnReject: func(host string) { m.host(host).breakerRejections.Inc() },
		// A host's breaker dropped to make room starts again closed.
		OnEvict: func(host string) { m.host(host).breakerState.Set(float64(breaker.Closed)) },
	}
}

// LimiterHooks returns the hooks through which the limiter layer reports its
// wait times and refusals.
func (m *Metrics) LimiterHooks() limiter.Hooks {
	return limiter.Hooks{
		OnWait:   func(host string, d time.Duration) { m.host(host).limiterWait.Observe(d.Seconds()) },
		OnReject: func(host string) { m.host(host).limiterRejections.Inc() },
	}
}
