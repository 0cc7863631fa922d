package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/metrics"
	"github.com/ebb-go/ebb/retry"
	"github.com/ebb-go/ebb/verdict"
	"github.com/prometheus/client_golang/prometheus"
)

// Option configures the chain built by [New] and [NewClient].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is everything the options set; defaultConfig is the zero-option
// chain.
type config struct {
	retry     retry.Policy
	breaker   breaker.Settings
	limiter   limiter.Settings
	logger    *slog.Logger
	registry  prometheus.Registerer
	namespace string
	native    bool

	attemptTimeout    time.Duration // WithAttemptTimeout, over retry.AttemptTimeout
	attemptTimeoutSet bool
	// env holds the settings FromEnv read; New applies them after every
	// other option, so that the deployment's variables win whatever the
	// order of the options.
	env []func(*config)
}

// newConfig applies opts, skipping nil ones (an option set conditionally
// and left unset), then the environment's settings.
func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	for _, p := range c.env {
		p(&c)
	}
	if c.attemptTimeoutSet {
		c.retry.AttemptTimeout = c.attemptTimeout
	}
	return c
}

// WithRetry sets the retry policy; its zero fields take the defaults. Use
// retry.Policy{MaxAttempts: 1} to send every request once.
func WithRetry(p retry.Policy) Option { return optionFunc(func(c *config) { c.retry = p }) }

// WithAttemptTimeout bounds each attempt (retry.Policy.AttemptTimeout),
// whatever the retry policy says: an attempt that has no response headers
// after d is abandoned as a transport error, retried where that is safe. A
// job activation's long poll gets its requestTimeout on top, so the bound
// never cuts it short. 0 means no bound; the default is none, since a bound
// costs a context per attempt, but a client whose requests carry no
// deadline should set one.
func WithAttemptTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.attemptTimeout, c.attemptTimeoutSet = d, true })
}

// WithBreaker sets the circuit breaker's settings; its zero fields take the
// defaults. Use breaker.Settings{Disabled: true} for a chain without one.
func WithBreaker(s breaker.Settings) Option { return optionFunc(func(c *config) { c.breaker = s }) }

// WithLimiter sets the adaptive concurrency limiter's settings; its zero
// value is the balanced profile. Use limiter.Settings{Profile: limiter.Off}
// for a chain without one. Hooks in s are called beside the chain's own.
func WithLimiter(s limiter.Settings) Option { return optionFunc(func(c *config) { c.limiter = s }) }

// WithLogger sets where the chain logs: each retry at debug level, each
// logical request that gives up on a failure at warn level, each breaker
// that opens at warn level and closes again at info level. Records carry the
// host (host:port), route template, method, attempts and verdict; never a
// URL, header or body. nil, the default, logs nothing.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.logger = l }) }

// WithMetrics exports the chain's decisions as Prometheus metrics (package
// metrics), registered with reg. nil, the default, means no metrics; the
// global registry is used only if it is what you pass
// (prometheus.DefaultRegisterer). Chains sharing a registry share their
// collectors.
func WithMetrics(reg prometheus.Registerer) Option {
	return optionFunc(func(c *config) { c.registry = reg })
}

// WithMetricsNamespace sets the prefix of the metric names, "ebb" by default
// (ebb_requests_total).
func WithMetricsNamespace(ns string) Option {
	return optionFunc(func(c *config) { c.namespace = ns })
}

// WithNativeHistograms adds Prometheus native histograms beside the classic
// buckets of every histogram, for servers that scrape them.
func WithNativeHistograms() Option {
	return optionFunc(func(c *config) { c.native = true })
}

// New returns base wearing the ebb chain (see the package doc). A nil base is
// http.DefaultTransport. New panics if an option holds invalid settings;
// settings from outside the program come through [FromEnv], which reports
// them as errors instead.
func New(base http.RoundTripper, opts ...Option) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	c := newConfig(opts)
	routes := &verdict.Routes{}
	var m *metrics.Metrics
	if c.registry != nil {
		var err error
		if m, err = metrics.New(c.registry, metrics.Options{Namespace: c.namespace, NativeHistograms: c.native, Routes: routes}); err != nil {
			panic(fmt.Sprintf("transport: %v", err))
		}
	}

	rt := base
	if m != nil {
		rt = m.Attempts(rt)
	}
	var limiterOpts []limiter.Option
	if m != nil {
		limiterOpts = append(limiterOpts, limiter.WithHooks(m.LimiterHooks()))
	}
	rt = limiter.New(rt, c.limiter, limiterOpts...)
	retryHooks := logHooks(c.logger, routes)
	if m != nil {
		retryHooks = joinRetryHooks(retryHooks, m.RetryHooks())
	}
	rt = retry.New(rt, c.retry, retry.WithHooks(retryHooks))
	breakerHooks := breakerLogHooks(c.logger)
	if m != nil {
		breakerHooks = joinBreakerHooks(breakerHooks, m.BreakerHooks())
	}
	rt = breaker.New(rt, c.breaker, breaker.WithHooks(breakerHooks))
	if m != nil {
		rt = m.Requests(rt)
	}
	return &chain{RoundTripper: rt, base: base}
}

// errNoURL answers a request without a URL, as net/http does.
var errNoURL = errors.New("transport: nil Request.URL")

// NewClient returns an http.Client whose transport is [New] over a transport
// of its own: a clone of http.DefaultTransport that keeps up to 64 idle
// connections per host instead of 2, so that a worker's concurrent requests
// to one cluster reuse their connections rather than churn through new ones.
func NewClient(opts ...Option) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: New(base, opts...)}
}

// chain is what New returns: the outermost layer, plus the base so that
// http.Client.CloseIdleConnections reaches it. The chain itself never closes
// the base's connections: that is for whoever owns the base.
type chain struct {
	http.RoundTripper
	base http.RoundTripper
}

// RoundTrip sends req through the chain. A request without a URL is an
// error, as net/http has it, rather than a panic in a layer.
func (c *chain) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errNoURL
	}
	return c.RoundTripper.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of the base transport,
// if it has any; http.Client.CloseIdleConnections calls it.
func (c *chain) CloseIdleConnections() {
	if ci, ok := c.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// logHooks returns the retry hooks that log, or none without a logger.
func logHooks(l *slog.Logger, routes *verdict.Routes) retry.Hooks {
	if l == nil {
		return retry.Hooks{}
	}
	attrs := func(e retry.Event) []slog.Attr {
		// Keyed as package metrics keys the shared table, by the host as
		// the request spells it, so one host takes one entry and one bound.
		route := routes.Of(e.Request.URL.Host, e.Request.URL.Path).Template
		a := []slog.Attr{
			slog.String("host", e.Host),
			slog.String("route", route),
			slog.String("method", e.Request.Method),
			slog.Int("attempt", e.Attempt),
			slog.String("verdict", e.Verdict.Kind.String()),
		}
		if e.Verdict.Status != 0 {
			a = append(a, slog.Int("status", e.Verdict.Status))
		}
		return a
	}
	return retry.Hooks{
		OnRetry: func(e retry.Event) {
			ctx := e.Request.Context()
			if !l.Enabled(ctx, slog.LevelDebug) {
				return
			}
			a := append(attrs(e), slog.Duration("delay", e.Delay), slog.String("source", e.Source.String()))
			l.LogAttrs(ctx, slog.LevelDebug, "ebb: retrying", a...)
		},
		OnDone: func(e retry.Event) {
			if !e.Verdict.Kind.Failure() {
				return
			}
			ctx := e.Request.Context()
			if !l.Enabled(ctx, slog.LevelWarn) {
				return
			}
			a := append(attrs(e), slog.String("stop", e.Stop.String()))
			if e.Verdict.Err != nil {
				a = append(a, slog.String("error", errorClass(e.Verdict.Err)))
			}
			l.LogAttrs(ctx, slog.LevelWarn, "ebb: giving up", a...)
		},
	}
}

// errorClass describes a transport error without the URL that a *url.Error
// carries, since URLs may hold secrets.
func errorClass(err error) string {
	var ue *url.Error
	for errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// breakerLogHooks logs the transitions of the breakers, or nothing without
// a logger.
func breakerLogHooks(l *slog.Logger) breaker.Hooks {
	if l == nil {
		return breaker.Hooks{}
	}
	return breaker.Hooks{
		OnStateChange: func(host string, from, to breaker.State) {
			level := slog.LevelInfo
			if to == breaker.Open {
				level = slog.LevelWarn
			}
			l.LogAttrs(context.Background(), level, "ebb: breaker "+to.String(),
				slog.String("host", host), slog.String("from", from.String()), slog.String("to", to.String()))
		},
	}
}
