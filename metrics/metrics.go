package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ebb-go/ebb/internal/cow"
	"github.com/ebb-go/ebb/verdict"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configures a [Metrics]. The zero value gives the defaults.
type Options struct {
	// Namespace prefixes every metric name: ebb_requests_total with "ebb".
	// Empty means "ebb".
	Namespace string
	// NativeHistograms adds Prometheus native (sparse) buckets to every
	// histogram, beside the classic ones, for servers that scrape them.
	NativeHistograms bool
	// MaxHosts bounds the hosts that get their own series; beyond it, the
	// host label reads "other". 0 means 256.
	MaxHosts int
	// Routes templates request paths for the route label. nil means a table
	// of the Metrics' own with the default bounds.
	Routes *verdict.Routes
}

// Metrics holds ebb's collectors and the cached series handles that keep the
// hot path free of label hashing. Create it with [New]; it is safe for
// concurrent use.
type Metrics struct {
	requests           *prometheus.CounterVec
	requestDuration    *prometheus.HistogramVec
	attempts           *prometheus.CounterVec
	attemptsPerRequest *prometheus.HistogramVec
	retries            *prometheus.CounterVec
	retryDelay         *prometheus.HistogramVec
	budgetExhausted    *prometheus.CounterVec
	backpressure       *prometheus.CounterVec
	breakerState       *prometheus.GaugeVec
	breakerTransitions *prometheus.CounterVec
	breakerRejections  *prometheus.CounterVec
	limiterLimit       *prometheus.GaugeVec
	limiterInFlight    *prometheus.GaugeVec
	limiterWaiting     *prometheus.GaugeVec
	limiterWait        *prometheus.HistogramVec
	limiterRejections  *prometheus.CounterVec

	routes   *verdict.Routes
	maxHosts int

	// Caches of series handles: read on every request without a lock,
	// written once per new label combination.
	hosts    cow.Map[string, *hostSeries] // by host label, at most maxHosts and "other"
	spelling cow.Map[string, *hostSeries] // by URL.Host as requests spell it
	requestS cow.Map[requestKey, *requestSeries]
	attemptS cow.Map[attemptKey, *attemptSeries]
	perReq   cow.Map[routeKey, prometheus.Observer]
	retryS   cow.Map[retryKey, prometheus.Counter]
}

// Bucket layouts. Request durations run from a millisecond to past the
// default long-poll timeout of job activation; retry delays span the
// backoff's range; limiter waits start well below a millisecond.
var (
	durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60}
	delayBuckets    = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	waitBuckets     = []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	attemptBuckets  = []float64{1, 2, 3, 4, 5, 7, 10}
)

// New creates ebb's collectors and registers them with reg; with a nil reg
// nothing is registered (the Metrics still works, for tests that read it
// through testutil). Registering on a registry that already holds ebb's
// collectors of the same namespace reuses them rather than failing, so two
// chains can share one registry. It fails on an invalid namespace or a
// collector of another kind already registered under one of ebb's names.
func New(reg prometheus.Registerer, o Options) (*Metrics, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ns := o.Namespace
	if ns == "" {
		ns = "ebb"
	}
	m := &Metrics{
		routes:   o.Routes,
		maxHosts: o.MaxHosts,
	}
	if m.routes == nil {
		m.routes = &verdict.Routes{}
	}
	if m.maxHosts <= 0 {
		m.maxHosts = 256
	}
	r := registrar{reg: reg}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
		return r.register(c).(*prometheus.CounterVec)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help}, labels)
		return r.register(g).(*prometheus.GaugeVec)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		opts := prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: buckets}
		if o.NativeHistograms {
			opts.NativeHistogramBucketFactor = 1.1
			opts.NativeHistogramMaxBucketNumber = 100
			opts.NativeHistogramMinResetDuration = time.Hour
		}
		return r.register(prometheus.NewHistogramVec(opts, labels)).(*prometheus.HistogramVec)
	}

	m.requests = counter("requests_total", "Logical requests that ended, by outcome (the verdict of the last attempt, or refused).", "host", "route", "method", "outcome")
	m.requestDuration = histogram("request_duration_seconds", "Time from the start of a logical request to its answer, retries and waits included.", durationBuckets, "host", "route", "method", "outcome")
	m.attempts = counter("attempts_total", "Attempts sent to the server, by status code and verdict.", "host", "route", "method", "code", "verdict")
	m.attemptsPerRequest = histogram("attempts_per_request", "Attempts made per logical request that reached the retry layer.", attemptBuckets, "host", "route")
	m.retries = counter("retries_total", "Retries scheduled, by the verdict that called for them.", "host", "route", "reason")
	m.retryDelay = histogram("retry_delay_seconds", "Delays waited before retries, by where the delay came from (backoff or retry_after).", delayBuckets, "host", "source")
	m.budgetExhausted = counter("retry_budget_exhausted_total", "Retries refused because the host's retry budget was spent.", "host")
	m.backpressure = counter("backpressure_total", "Attempts the server refused with backpressure (429, RESOURCE_EXHAUSTED).", "host", "route")
	m.breakerState = gauge("breaker_state", "State of the host's circuit breaker: 0 closed, 1 half-open, 2 open.", "host")
	m.breakerTransitions = counter("breaker_transitions_total", "State changes of the host's circuit breaker.", "host", "from", "to")
	m.breakerRejections = counter("breaker_rejections_total", "Requests failed at once by an open or half-open breaker.", "host")
	m.limiterLimit = gauge("limiter_limit", "The host's adaptive concurrency limit; 0 while the limit is out of the way.", "host")
	m.limiterInFlight = gauge("limiter_in_flight", "Attempts holding a permit of the host's limiter.", "host")
	m.limiterWaiting = gauge("limiter_waiting", "Attempts waiting for a permit of the host's limiter.", "host")
	m.limiterWait = histogram("limiter_wait_seconds", "Time attempts waited for a permit.", waitBuckets, "host")
	m.limiterRejections = counter("limiter_rejections_total", "Attempts refused because the host's limiter queue was full.", "host")
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

// Validate reports whether the options are usable: the namespace must be a
// valid metric name prefix and MaxHosts not negative.
func (o Options) Validate() error {
	if o.Namespace != "" && !validName(o.Namespace) {
		return fmt.Errorf("metrics: namespace %q is not a valid metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)", o.Namespace)
	}
	if o.MaxHosts < 0 {
		return fmt.Errorf("metrics: MaxHosts = %d must not be negative", o.MaxHosts)
	}
	return nil
}

// registrar registers collectors, reusing one already registered under the
// same description and remembering the first other error.
type registrar struct {
	reg prometheus.Registerer
	err error
}

func (r *registrar) register(c prometheus.Collector) prometheus.Collector {
	if r.reg == nil || r.err != nil {
		return c
	}
	err := r.reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		switch c.(type) {
		case *prometheus.CounterVec:
			if ex, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return ex
			}
		case *prometheus.GaugeVec:
			if ex, ok := are.ExistingCollector.(*prometheus.GaugeVec); ok {
				return ex
			}
		case *prometheus.HistogramVec:
			if ex, ok := are.ExistingCollector.(*prometheus.HistogramVec); ok {
				return ex
			}
		}
	}
	r.err = fmt.Errorf("metrics: %w", err)
	return c
}

func validName(s string) bool {
	for i, c := range s {
		ok := c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return s != ""
}

// hostSeries are the per-host series, created once per host label.
type hostSeries struct {
	label             string
	budgetExhausted   prometheus.Counter
	retryDelay        [2]prometheus.Observer // by retry.Source
	breakerState      prometheus.Gauge
	breakerRejections prometheus.Counter
	limiterLimit      prometheus.Gauge
	limiterInFlight   prometheus.Gauge
	limiterWaiting    prometheus.Gauge
	limiterWait       prometheus.Observer
	limiterRejections prometheus.Counter
}

// host returns the series of a host label, creating them on first use, or
// those of "other" beyond MaxHosts.
func (m *Metrics) host(label string) *hostSeries {
	if h, ok := m.hosts.Load(label); ok {
		return h
	}
	h := m.hosts.LoadOrStore(label, func(n int) (*hostSeries, bool) {
		if n >= m.maxHosts {
			return nil, false
		}
		return m.newHost(label), true
	})
	if h == nil {
		h = m.hosts.LoadOrStore(verdict.Other, func(int) (*hostSeries, bool) { return m.newHost(verdict.Other), true })
	}
	return h
}

func (m *Metrics) newHost(label string) *hostSeries {
	return &hostSeries{
		label:             label,
		budgetExhausted:   m.budgetExhausted.WithLabelValues(label),
		retryDelay:        [2]prometheus.Observer{m.retryDelay.WithLabelValues(label, "backoff"), m.retryDelay.WithLabelValues(label, "retry_after")},
		breakerState:      m.breakerState.WithLabelValues(label),
		breakerRejections: m.breakerRejections.WithLabelValues(label),
		limiterLimit:      m.limiterLimit.WithLabelValues(label),
		limiterInFlight:   m.limiterInFlight.WithLabelValues(label),
		limiterWaiting:    m.limiterWaiting.WithLabelValues(label),
		limiterWait:       m.limiterWait.WithLabelValues(label),
		limiterRejections: m.limiterRejections.WithLabelValues(label),
	}
}

// hostOf returns the series of a request's host. The label (lower case,
// default port) is worked out once per spelling of the host.
func (m *Metrics) hostOf(req *http.Request) *hostSeries {
	if h, ok := m.spelling.Load(req.URL.Host); ok {
		return h
	}
	h := m.host(verdict.HostOf(req).Label())
	return m.spelling.LoadOrStore(req.URL.Host, func(n int) (*hostSeries, bool) { return h, n < 4*m.maxHosts })
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

type requestKey struct {
	host          *hostSeries
	route, method string
	outcome       verdict.Kind
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

func (m *Metrics) requestSeries(k requestKey) *requestSeries {
	if s, ok := m.requestS.Load(k); ok {
		return s
	}
	return m.requestS.LoadOrStore(k, func(int) (*requestSeries, bool) {
		lv := []string{k.host.label, k.route, k.method, k.outcome.String()}
		return &requestSeries{count: m.requests.WithLabelValues(lv...), duration: m.requestDuration.WithLabelValues(lv...)}, true
	})
}

type attemptKey struct {
	host          *hostSeries
	route, method string
	code          int
	kind          verdict.Kind
}

type attemptSeries struct {
	count        prometheus.Counter
	backpressure prometheus.Counter // nil unless kind is Backpressure
}

func (m *Metrics) attemptSeries(k attemptKey) *attemptSeries {
	if s, ok := m.attemptS.Load(k); ok {
		return s
	}
	return m.attemptS.LoadOrStore(k, func(int) (*attemptSeries, bool) {
		code := "none"
		if k.code != 0 {
			code = strconv.Itoa(k.code)
		}
		s := &attemptSeries{count: m.attempts.WithLabelValues(k.host.label, k.route, k.method, code, k.kind.String())}
		if k.kind == verdict.Backpressure {
			s.backpressure = m.backpressure.WithLabelValues(k.host.label, k.route)
		}
		return s, true
	})
}

type routeKey struct {
	host  *hostSeries
	route string
}

// perRequest returns the attempts-per-request observer of a host and route.
func (m *Metrics) perRequest(h *hostSeries, route string) prometheus.Observer {
	k := routeKey{h, route}
	if o, ok := m.perReq.Load(k); ok {
		return o
	}
	return m.perReq.LoadOrStore(k, func(int) (prometheus.Observer, bool) {
		return m.attemptsPerRequest.WithLabelValues(h.label, route), true
	})
}

// collectors returns every collector of m, in the order of DESIGN.md.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.requests, m.requestDuration, m.attempts, m.attemptsPerRequest, m.retries, m.retryDelay,
		m.budgetExhausted, m.backpressure, m.breakerState, m.breakerTransitions, m.breakerRejections,
		m.limiterLimit, m.limiterInFlight, m.limiterWaiting, m.limiterWait, m.limiterRejections,
	}
}

type retryKey struct {
	host   *hostSeries
	route  string
	reason verdict.Kind
}

// retrySeries returns the retries counter of a host, route and reason: under
// overload retries come by the hundred a second, so they too skip the label
// hashing.
func (m *Metrics) retrySeries(k retryKey) prometheus.Counter {
	if c, ok := m.retryS.Load(k); ok {
		return c
	}
	return m.retryS.LoadOrStore(k, func(int) (prometheus.Counter, bool) {
		return m.retries.WithLabelValues(k.host.label, k.route, k.reason.String()), true
	})
}
