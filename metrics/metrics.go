package metrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/ebb-go/ebb/internal/hosts"
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
	// MaxHosts bounds the hosts that get series of their own; beyond it,
	// the host label reads "other". 0 means 256.
	MaxHosts int
	// MaxRoutes bounds the route templates of each host, Camunda's
	// included; beyond it, the route label reads "other". The hosts beyond
	// MaxHosts share one such bound. 0 means 100.
	MaxRoutes int
}

// Default bounds of Options.
const (
	defaultMaxHosts  = 256
	defaultMaxRoutes = verdict.DefaultMaxRoutes
)

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
	breakerTransitions *prometheus.CounterVec
	breakerRejections  *prometheus.CounterVec
	limiterWait        *prometheus.HistogramVec
	limiterRejections  *prometheus.CounterVec
	gauges             *gauges // ebb_breaker_state, ebb_limiter_limit, _in_flight, _waiting, read at scrape time

	maxRoutes int
	hosts     hosts.Table[hostSeries]
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
	m := &Metrics{maxRoutes: o.MaxRoutes}
	if m.maxRoutes == 0 {
		m.maxRoutes = defaultMaxRoutes
	}
	m.hosts = hosts.Table[hostSeries]{
		Max:      o.MaxHosts,
		New:      m.newHost,
		Overflow: func() *hostSeries { return m.newHost(verdict.Other) },
	}
	if m.hosts.Max == 0 {
		m.hosts.Max = defaultMaxHosts
	}
	r := registrar{reg: reg}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
		return r.register(c).(*prometheus.CounterVec)
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
	m.breakerTransitions = counter("breaker_transitions_total", "State changes of the host's circuit breaker.", "host", "from", "to")
	m.breakerRejections = counter("breaker_rejections_total", "Requests failed at once by an open or half-open breaker.", "host")
	m.gauges = r.register(newGauges(ns)).(*gauges)
	m.limiterWait = histogram("limiter_wait_seconds", "Time attempts waited for a permit.", waitBuckets, "host")
	m.limiterRejections = counter("limiter_rejections_total", "Attempts refused because the host's limiter queue was full.", "host")
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

// Validate reports whether the options are usable: the namespace must be a
// valid metric name prefix and the bounds not negative.
func (o Options) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: %s = %v: %s", ErrInvalidOptions, field, v, why)
	}
	switch {
	case o.Namespace != "" && !validName(o.Namespace):
		return bad("Namespace", fmt.Sprintf("%q", o.Namespace), "not a valid metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)")
	case o.MaxHosts < 0:
		return bad("MaxHosts", o.MaxHosts, "must not be negative")
	case o.MaxRoutes < 0:
		return bad("MaxRoutes", o.MaxRoutes, "must not be negative")
	}
	return nil
}

// ErrInvalidOptions is matched by every error [Options.Validate] returns.
var ErrInvalidOptions = errors.New("metrics: invalid options")

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
	if errors.As(err, &are) && sameKind(c, are.ExistingCollector) {
		return are.ExistingCollector
	}
	r.err = fmt.Errorf("metrics: %w", err)
	return c
}

// sameKind reports whether an existing collector can stand in for c.
func sameKind(c, existing prometheus.Collector) bool {
	switch c.(type) {
	case *prometheus.CounterVec:
		_, ok := existing.(*prometheus.CounterVec)
		return ok
	case *prometheus.HistogramVec:
		_, ok := existing.(*prometheus.HistogramVec)
		return ok
	case *gauges:
		_, ok := existing.(*gauges)
		return ok
	}
	return false
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

// collectors returns every collector of m, in the order of the families in
// the package doc.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.requests, m.requestDuration, m.attempts, m.attemptsPerRequest, m.retries, m.retryDelay,
		m.budgetExhausted, m.backpressure, m.breakerTransitions, m.breakerRejections,
		m.gauges, m.limiterWait, m.limiterRejections,
	}
}
