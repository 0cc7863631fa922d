package transport

import (
	"log/slog"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/metrics"
	"github.com/ebb-go/ebb/retry"
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
		if c.breaker.ProbeTimeout == 0 && c.attemptTimeout > 0 {
			// The chain's attempt bound bounds the breaker's probes too.
			c.breaker.ProbeTimeout = c.attemptTimeout
		}
	}
	return c
}

// WithRetry sets the retry policy; its zero fields take the defaults. Use
// retry.Policy{MaxAttempts: 1} to send every request once.
func WithRetry(p retry.Policy) Option { return optionFunc(func(c *config) { c.retry = p }) }

// WithAttemptTimeout bounds each attempt (retry.Policy.AttemptTimeout),
// whatever the retry policy says, and each probe of the breaker
// (breaker.Settings.ProbeTimeout, unless that is set): an attempt that has
// no response headers d after it was sent (its wait for a permit of the
// limiter does not count) is abandoned as a transport error, retried
// where that is safe. A probe is a whole request, its retries and waits
// included, and the retry layer plans by its bound: it hands back the last
// answer rather than wait past it; a probe whose bound runs out before it
// was sent is not counted against the host. A job activation's long poll gets its requestTimeout
// on top, so the bound never cuts it short. 0 means no bound. By default
// only the breaker's probes are bounded (10s), since a bound costs a
// context per attempt; a client whose requests carry no deadline should set
// one.
func WithAttemptTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.attemptTimeout, c.attemptTimeoutSet = d, true })
}

// WithBreaker sets the circuit breaker's settings; its zero fields take the
// defaults. Use breaker.Settings{Disabled: true} for a chain without one.
func WithBreaker(s breaker.Settings) Option { return optionFunc(func(c *config) { c.breaker = s }) }

// WithLimiter sets the adaptive concurrency limiter's settings; its zero
// value is the balanced profile. Use limiter.Settings{Profile: limiter.Off}
// for a chain without one.
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

// validate reports the first invalid setting of c.
func (c *config) validate() error {
	for _, err := range []error{
		c.retry.Validate(), c.breaker.Validate(), c.limiter.Validate(),
		metrics.Options{Namespace: c.namespace}.Validate(),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// Settings are the settings in force in a chain, every default filled in,
// as [Transport.Snapshot] reports them.
type Settings struct {
	// Retry is the retry policy, AttemptTimeout included.
	Retry retry.Policy
	// Breaker is the circuit breaker's settings; Disabled when the chain
	// has no breaker.
	Breaker breaker.Settings
	// Limiter is the limiter's settings; its Profile is limiter.Off when the
	// chain has no limiter.
	Limiter limiter.Settings
	// Metrics reports whether the chain exports metrics, under Namespace.
	Metrics   bool
	Namespace string
	// Logging reports whether the chain logs.
	Logging bool
}

func (c *config) settings(t *Transport) Settings {
	s := Settings{
		Retry:   t.retry.Policy(),
		Breaker: breaker.Settings{Disabled: true},
		Limiter: limiter.Settings{Profile: limiter.Off},
		Metrics: c.registry != nil,
		Logging: c.logger != nil,
	}
	if t.breaker != nil {
		s.Breaker = t.breaker.Settings()
	}
	if t.limiter != nil {
		s.Limiter = t.limiter.Settings()
	}
	if s.Metrics {
		s.Namespace = c.namespace
		if s.Namespace == "" {
			s.Namespace = "ebb"
		}
	}
	return s
}
