package metrics

import (
	"net/http"
	"time"

	"github.com/ebb-go/ebb/retry"
	"github.com/ebb-go/ebb/verdict"
)

// Requests returns the outermost metrics layer: it counts each logical
// request once it has its answer, by the outcome of its last attempt (or
// refused, when a layer of ebb turned it down), and observes its duration,
// retries and waits included. It is safe for concurrent use.
func (m *Metrics) Requests(next http.RoundTripper) http.RoundTripper {
	return &requestLayer{m: m, next: next}
}

// Attempts returns the innermost metrics layer: it counts each attempt by
// status code and verdict, and each backpressure answer. It is safe for
// concurrent use.
func (m *Metrics) Attempts(next http.RoundTripper) http.RoundTripper {
	return &attemptLayer{m: m, next: next}
}

type requestLayer struct {
	m    *Metrics
	next http.RoundTripper
}

func (l *requestLayer) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := l.next.RoundTrip(req)
	a := verdict.Of(req, resp, err)
	h := l.m.hostOf(req)
	s := l.m.requestSeries(requestKey{host: h, route: l.m.routes.Of(req.URL.Host, req.URL.Path).Template, method: method(req.Method), outcome: a.Kind})
	s.count.Inc()
	s.duration.Observe(time.Since(start).Seconds())
	return resp, err
}

// closeIdle passes CloseIdleConnections on to next, so that
// http.Client.CloseIdleConnections reaches through a metrics layer.
func closeIdle(next http.RoundTripper) {
	if c, ok := next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (l *requestLayer) CloseIdleConnections() { closeIdle(l.next) }
func (l *attemptLayer) CloseIdleConnections() { closeIdle(l.next) }

type attemptLayer struct {
	m    *Metrics
	next http.RoundTripper
}

func (l *attemptLayer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(req)
	a := verdict.Of(req, resp, err)
	h := l.m.hostOf(req)
	s := l.m.attemptSeries(attemptKey{host: h, route: l.m.routes.Of(req.URL.Host, req.URL.Path).Template, method: method(req.Method), code: a.Status, kind: a.Kind})
	s.count.Inc()
	if s.backpressure != nil {
		s.backpressure.Inc()
	}
	return resp, err
}

// RetryHooks returns the hooks through which the retry layer reports its
// retries, their delays, spent budgets and attempts per request.
func (m *Metrics) RetryHooks() retry.Hooks {
	return retry.Hooks{
		OnRetry: func(e retry.Event) {
			h := m.host(e.Host)
			route := m.routes.Of(e.Request.URL.Host, e.Request.URL.Path).Template
			m.retrySeries(retryKey{h, route, e.Verdict.Kind}).Inc()
			h.retryDelay[e.Source&1].Observe(e.Delay.Seconds())
		},
		OnDone: func(e retry.Event) {
			h := m.host(e.Host)
			if e.Stop == retry.StopBudget {
				h.budgetExhausted.Inc()
			}
			m.perRequest(h, m.routes.Of(e.Request.URL.Host, e.Request.URL.Path).Template).Observe(float64(e.Attempt))
		},
	}
}
