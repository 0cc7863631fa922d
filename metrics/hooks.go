package metrics

import (
	"net/http"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/retry"
	"github.com/ebb-go/ebb/verdict"
)

// RetryHooks returns the hooks through which the retry layer reports every
// attempt, retry and logical request: they feed ebb_requests_total,
// ebb_request_duration_seconds, ebb_attempts_total, ebb_backpressure_total,
// ebb_attempts_per_request, ebb_retries_total, ebb_retry_delay_seconds and
// ebb_retry_budget_exhausted_total.
func (m *Metrics) RetryHooks() retry.Hooks {
	return retry.Hooks{
		OnAttempt: func(e retry.Event) {
			s := m.seriesOf(&e)
			s.attemptCounter(e.Verdict.Status, e.Verdict.Kind).Inc()
			if e.Verdict.Kind == verdict.Backpressure {
				s.backpressureCounter().Inc()
			}
		},
		OnRetry: func(e retry.Event) {
			s := m.seriesOf(&e)
			s.retryCounter(e.Verdict.Kind).Inc()
			s.h.retryDelay[e.Source&1].Observe(e.Delay.Seconds())
		},
		OnDone: func(e retry.Event) {
			s := m.seriesOf(&e)
			k := e.Verdict.Kind
			s.requestCounter(k).Inc()
			s.durationObserver(k).Observe(e.Elapsed.Seconds())
			s.perRequestObserver().Observe(float64(e.Attempt))
			if e.Stop == retry.StopBudget {
				s.h.budgetExhausted.Inc()
			}
		},
	}
}

// BreakerHooks returns the hooks through which the breaker layer reports its
// state changes (ebb_breaker_transitions_total) and refusals
// (ebb_breaker_rejections_total, and ebb_requests_total with the outcome
// "refused"); its state is read at scrape time ([Metrics.WatchBreaker]).
func (m *Metrics) BreakerHooks() breaker.Hooks {
	return breaker.Hooks{
		OnStateChange: func(host string, from, to breaker.State) {
			m.breakerTransitions.WithLabelValues(m.host(host).label, from.String(), to.String()).Inc()
		},
		OnReject: func(host string, req *http.Request) {
			h := m.host(host)
			h.breakerRejections.Inc()
			if req.URL == nil {
				return
			}
			route := verdict.RouteOf(req.URL.Path).Template
			if route == "" {
				route = h.routes.Of(req.URL.Path).Template
			}
			s := h.seriesOf(route, method(req.Method))
			s.requestCounter(verdict.Refused).Inc()
			s.durationObserver(verdict.Refused).Observe(0)
		},
	}
}

// LimiterHooks returns the hooks through which the limiter layer reports its
// waits and refusals; its limit, permits in use and waiters are read at
// scrape time ([Metrics.WatchLimiter]).
func (m *Metrics) LimiterHooks() limiter.Hooks {
	return limiter.Hooks{
		OnWait:   func(host string, d time.Duration) { m.host(host).limiterWait.Observe(d.Seconds()) },
		OnReject: func(host string) { m.host(host).limiterRejections.Inc() },
	}
}
