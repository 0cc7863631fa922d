package metrics

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/ebb-go/ebb/internal/readmap"
	"github.com/ebb-go/ebb/retry"
	"github.com/ebb-go/ebb/verdict"
	"github.com/prometheus/client_golang/prometheus"
)

// hostSeries are the series of one host label, created on its first event;
// the hosts beyond MaxHosts share the one of "other".
type hostSeries struct {
	m     *Metrics
	label string

	budgetExhausted   prometheus.Counter
	retryDelay        [2]prometheus.Observer // by retry.Source
	breakerRejections prometheus.Counter
	limiterWait       prometheus.Observer
	limiterRejections prometheus.Counter

	routes verdict.Routes                      // the host's templates, bounded
	series readmap.Map[routeKey, *routeSeries] // by template and method
}

func (m *Metrics) newHost(label string) *hostSeries {
	h := &hostSeries{
		m:                 m,
		label:             label,
		budgetExhausted:   m.budgetExhausted.WithLabelValues(label),
		retryDelay:        [2]prometheus.Observer{m.retryDelay.WithLabelValues(label, "backoff"), m.retryDelay.WithLabelValues(label, "retry_after")},
		breakerRejections: m.breakerRejections.WithLabelValues(label),
		limiterWait:       m.limiterWait.WithLabelValues(label),
		limiterRejections: m.limiterRejections.WithLabelValues(label),
	}
	h.routes.Max = m.maxRoutes
	return h
}

// host returns the series of a host label as the layers' hooks give it.
func (m *Metrics) host(label string) *hostSeries {
	return m.hosts.Get(verdict.Host{Addr: label})
}

type routeKey struct{ route, method string }

// routeSeries are the series of one host, route and method.
type routeSeries struct {
	h             *hostSeries
	route, method string

	requests     [verdict.NumKinds]lazy[prometheus.Counter]
	duration     [verdict.NumKinds]lazy[prometheus.Observer]
	retries      [verdict.NumKinds]lazy[prometheus.Counter]
	attempts     readmap.Map[attemptKey, prometheus.Counter]
	backpressure lazy[prometheus.Counter]
	perRequest   lazy[prometheus.Observer]
}

type attemptKey struct {
	code string
	kind verdict.Kind
}

// seriesOf returns the series of the request of a retry event. The route
// comes from the event when Camunda's table knows it, and from the host's
// bounded table otherwise; either way it counts against the host's bound.
func (m *Metrics) seriesOf(e *retry.Event) *routeSeries {
	var h *hostSeries
	path := ""
	if u := e.Request.URL; u != nil {
		h, path = m.hosts.Get(verdict.HostOf(e.Request)), u.Path
	} else {
		h = m.host(e.Host)
	}
	route := e.Route.Template
	if route == "" {
		route = h.routes.Of(path).Template
	}
	return h.seriesOf(route, method(e.Request.Method))
}

func (h *hostSeries) seriesOf(route, method string) *routeSeries {
	k := routeKey{route, method}
	if s, ok := h.series.Load(k); ok {
		return s
	}
	// A Camunda template met for the first time takes its place in the
	// host's bound here. Admit is done before the map's lock is taken: the
	// series of Other it may lead to is looked up in the same map, whose
	// lock a create function holds.
	if admitted := h.routes.Admit(route); admitted != route {
		return h.seriesOf(admitted, method)
	}
	return h.series.LoadOrStore(k, func(int) (*routeSeries, bool) {
		return &routeSeries{h: h, route: route, method: method}, true
	})
}

func (s *routeSeries) requestCounter(k verdict.Kind) prometheus.Counter {
	return s.requests[k].get(func() prometheus.Counter {
		return s.h.m.requests.WithLabelValues(s.h.label, s.route, s.method, k.String())
	})
}

func (s *routeSeries) durationObserver(k verdict.Kind) prometheus.Observer {
	return s.duration[k].get(func() prometheus.Observer {
		return s.h.m.requestDuration.WithLabelValues(s.h.label, s.route, s.method, k.String())
	})
}

func (s *routeSeries) retryCounter(k verdict.Kind) prometheus.Counter {
	return s.retries[k].get(func() prometheus.Counter {
		return s.h.m.retries.WithLabelValues(s.h.label, s.route, k.String())
	})
}

func (s *routeSeries) backpressureCounter() prometheus.Counter {
	return s.backpressure.get(func() prometheus.Counter {
		return s.h.m.backpressure.WithLabelValues(s.h.label, s.route)
	})
}

func (s *routeSeries) perRequestObserver() prometheus.Observer {
	return s.perRequest.get(func() prometheus.Observer {
		return s.h.m.attemptsPerRequest.WithLabelValues(s.h.label, s.route)
	})
}

func (s *routeSeries) attemptCounter(status int, k verdict.Kind) prometheus.Counter {
	key := attemptKey{codeLabel(status), k}
	if c, ok := s.attempts.Load(key); ok {
		return c
	}
	return s.attempts.LoadOrStore(key, func(int) (prometheus.Counter, bool) {
		return s.h.m.attempts.WithLabelValues(s.h.label, s.route, s.method, key.code, k.String()), true
	})
}

// lazy holds a series handle created on first use, so that an outcome never
// seen exports no series.
type lazy[T any] struct{ p atomic.Pointer[T] }

func (l *lazy[T]) get(create func() T) T {
	if p := l.p.Load(); p != nil {
		return *p
	}
	v := create()
	l.p.CompareAndSwap(nil, &v)
	return *l.p.Load()
}

// method bounds the method label to the standard methods.
func method(m string) string {
	switch m {
	case "", http.MethodGet:
		return http.MethodGet
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// codes are the status codes labelled as themselves; any other reads as its
// class (2xx, 4xx...), so that the code label has at most 21 values.
var codes = func() map[int]string {
	m := map[int]string{}
	for _, c := range []int{200, 201, 202, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504} {
		m[c] = strconv.Itoa(c)
	}
	return m
}()

// codeLabel returns the code label of a status: "none" without a response.
func codeLabel(status int) string {
	if status == 0 {
		return "none"
	}
	if s, ok := codes[status]; ok {
		return s
	}
	if status >= 100 && status < 600 {
		return string(rune('0'+status/100)) + "xx"
	}
	return "other"
}
