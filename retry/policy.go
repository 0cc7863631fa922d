package retry

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Policy says how one logical request is retried. Its zero value is the
// default policy; every zero field takes the default given in its comment.
type Policy struct {
	// MaxAttempts is the number of attempts per logical request, the first
	// included: 1 means no retry. 0 means 5.
	MaxAttempts int
	// InitialInterval is the mean delay before the first retry. 0 means
	// 100ms.
	InitialInterval time.Duration
	// MaxInterval caps the mean delay between attempts. 0 means 5s.
	MaxInterval time.Duration
	// Multiplier is the growth of the delay from one retry to the next; it
	// must be at least 1. 0 means 2.
	Multiplier float64
	// RandomizationFactor spreads each delay d over [d-f·d, d+f·d] so that
	// clients rejected together do not return together; it must be at most 1.
	// 0 means 0.5; a negative value means no randomization.
	RandomizationFactor float64
	// MaxRetryAfter is the longest Retry-After the layer waits for: a server
	// asking for more gets its response handed back at once. 0 means 30s.
	MaxRetryAfter time.Duration

	// BudgetRatio bounds the retries of unavailable, server and transport
	// errors a host may receive, as a share of its logical requests: each
	// request adds BudgetRatio tokens to the host's budget (up to
	// BudgetReserve) and each such retry takes one. Backpressure retries do
	// not draw on it (see the package doc). 0 means 0.2; a negative value
	// turns the budget off.
	BudgetRatio float64
	// BudgetReserve is the size of each host's budget, and what it holds
	// before any traffic, in retries. 0 means 10.
	BudgetReserve int

	// AttemptTimeout bounds each attempt, from sending it to its response
	// headers, so that a server that never answers cannot hold a request
	// for good (transport.WithAttemptTimeout bounds the breaker's probes
	// as well; this field alone does not). The time an attempt waits for
	// a permit of the limiter below does not count: the bound starts when
	// it leaves the queue. A job activation that long-polls gets its own
	// requestTimeout on top, so the bound never cuts a long poll short. An
	// attempt that runs out of time is a transport error, retried only
	// where that is safe. 0 means no bound beyond the context's deadline.
	// Bounding an attempt costs a context, a timer and a request clone per
	// attempt without a sooner deadline.
	AttemptTimeout time.Duration
}

// Defaults of Policy, as its field comments give them.
const (
	defaultMaxAttempts         = 5
	defaultInitialInterval     = 100 * time.Millisecond
	defaultMaxInterval         = 5 * time.Second
	defaultMultiplier          = 2.0
	defaultRandomizationFactor = 0.5
	defaultMaxRetryAfter       = 30 * time.Second
	defaultBudgetRatio         = 0.2
	defaultBudgetReserve       = 10
)

// ErrInvalidPolicy is matched by every error [Policy.Validate] returns.
var ErrInvalidPolicy = errors.New("retry: invalid policy")

// Validate reports the first field of p that is out of range: a negative
// count or duration, a multiplier below 1, a randomization factor above 1, a
// float that is not a finite number, or an initial interval above the
// maximum.
func (p Policy) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: %s = %v: %s", ErrInvalidPolicy, field, v, why)
	}
	switch {
	case !finite(p.Multiplier):
		return bad("Multiplier", p.Multiplier, "must be a finite number")
	case !finite(p.RandomizationFactor):
		return bad("RandomizationFactor", p.RandomizationFactor, "must be a finite number")
	case !finite(p.BudgetRatio):
		return bad("BudgetRatio", p.BudgetRatio, "must be a finite number")
	case p.AttemptTimeout < 0:
		return bad("AttemptTimeout", p.AttemptTimeout, "must not be negative")
	case p.MaxAttempts < 0:
		return bad("MaxAttempts", p.MaxAttempts, "must not be negative")
	case p.InitialInterval < 0:
		return bad("InitialInterval", p.InitialInterval, "must not be negative")
	case p.MaxInterval < 0:
		return bad("MaxInterval", p.MaxInterval, "must not be negative")
	case p.Multiplier != 0 && p.Multiplier < 1:
		return bad("Multiplier", p.Multiplier, "must be at least 1")
	case p.RandomizationFactor > 1:
		return bad("RandomizationFactor", p.RandomizationFactor, "must be at most 1")
	case p.MaxRetryAfter < 0:
		return bad("MaxRetryAfter", p.MaxRetryAfter, "must not be negative")
	case p.BudgetReserve < 0:
		return bad("BudgetReserve", p.BudgetReserve, "must not be negative")
	}
	q := p.withDefaults()
	if q.InitialInterval > q.MaxInterval {
		return bad("InitialInterval", q.InitialInterval, fmt.Sprintf("must not exceed MaxInterval (%v)", q.MaxInterval))
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// newBackOff returns the delays of one logical request.
func (p *Policy) newBackOff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.InitialInterval,
		RandomizationFactor: p.RandomizationFactor,
		Multiplier:          p.Multiplier,
		MaxInterval:         p.MaxInterval,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	return b
}

// withDefaults returns p with every zero field set to its default.
func (p Policy) withDefaults() Policy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = defaultMaxAttempts
	}
	if p.InitialInterval == 0 {
		p.InitialInterval = defaultInitialInterval
	}
	if p.MaxInterval == 0 {
		p.MaxInterval = defaultMaxInterval
	}
	if p.Multiplier == 0 {
		p.Multiplier = defaultMultiplier
	}
	switch {
	case p.RandomizationFactor == 0:
		p.RandomizationFactor = defaultRandomizationFactor
	case p.RandomizationFactor < 0:
		p.RandomizationFactor = 0
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = defaultMaxRetryAfter
	}
	if p.BudgetRatio == 0 {
		p.BudgetRatio = defaultBudgetRatio
	}
	if p.BudgetReserve == 0 {
		p.BudgetReserve = defaultBudgetReserve
	}
	return p
}
