package transport

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/metrics"
	"github.com/ebb-go/ebb/retry"
)

// FromEnv reads the chain's settings from the environment of the process,
// for workers configured by their deployment. Every variable is optional;
// where both an EBB_ name and a Camunda SDK name are set, the EBB_ one wins.
//
//	variable                              default  meaning
//	EBB_RETRY_MAX_ATTEMPTS                5        attempts per request, first included (whole number >= 1)
//	  CAMUNDA_SDK_HTTP_RETRY_MAX_ATTEMPTS
//	EBB_RETRY_INITIAL_INTERVAL            100ms    first delay (Go duration > 0)
//	  CAMUNDA_SDK_HTTP_RETRY_BASE_DELAY_MS          (milliseconds > 0)
//	EBB_RETRY_MAX_INTERVAL                5s       delay cap (Go duration > 0)
//	  CAMUNDA_SDK_HTTP_RETRY_MAX_DELAY_MS           (milliseconds > 0)
//	EBB_RETRY_MULTIPLIER                  2        growth per retry (number >= 1)
//	EBB_RETRY_RANDOMIZATION               0.5      jitter: delay d in [d-f·d, d+f·d] (0 to 1; 0 = none)
//	EBB_RETRY_MAX_RETRY_AFTER             30s      longest Retry-After waited for (Go duration > 0)
//	EBB_RETRY_BUDGET_RATIO                0.2      retries of failures per request, per host (number >= 0; 0 = no budget)
//	EBB_BREAKER                           on       "off" for no circuit breaker (on, off, true, false, 1, 0)
//	EBB_BREAKER_WINDOW                    10s      rolling window over which failures are counted (Go duration > 0)
//	EBB_BREAKER_FAILURE_RATIO             0.5      trips at this share of failed requests (0 < r <= 1, or off)
//	EBB_BREAKER_MIN_REQUESTS              10       fewest requests in the window for the ratio to apply (>= 1)
//	EBB_BREAKER_CONSECUTIVE_FAILURES      5        trips after this many failures in a row (>= 1, or off)
//	EBB_BREAKER_OPEN_TIMEOUT              10s      how long a tripped breaker refuses requests (Go duration > 0)
//	EBB_BREAKER_MAX_OPEN_TIMEOUT          60s      cap on a Retry-After lengthening the open period (Go duration > 0, or off)
//	EBB_BREAKER_PROBES                    1        requests let through while half-open (>= 1)
//	EBB_LIMITER_PROFILE                   balanced adaptive concurrency limit: balanced, conservative, aggressive,
//	  CAMUNDA_SDK_BACKPRESSURE_PROFILE              observe (track, never hold back) or off; the Camunda name
//	                                                takes BALANCED, CONSERVATIVE, AGGRESSIVE and LEGACY (= observe)
//	EBB_METRICS_NAMESPACE                 ebb      prefix of the metric names (with WithMetrics)
//
// A malformed or out-of-range value is an error naming the variable and the
// value, such as EBB_RETRY_MAX_ATTEMPTS="many": not a whole number; it is
// never replaced by a default. All such errors are reported together. A
// variable set to the empty string counts as unset.
func FromEnv() ([]Option, error) {
	return fromEnv(os.LookupEnv)
}

// env reads variables through lookup and gathers every error.
type env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// get returns the value of the first of names that is set, and its name. A
// variable set to the empty string counts as unset, as deployment manifests
// often leave a variable empty rather than remove it.
func (e *env) get(names ...string) (name, value string, ok bool) {
	for _, n := range names {
		if v, ok := e.lookup(n); ok && strings.TrimSpace(v) != "" {
			return n, strings.TrimSpace(v), true
		}
	}
	return "", "", false
}

func (e *env) fail(name, value, why string) {
	e.errs = append(e.errs, fmt.Errorf("%s=%q: %s", name, value, why))
}

// wholeNumber reads an integer of at least lo.
func (e *env) wholeNumber(dst *int, lo int, names ...string) {
	name, v, ok := e.get(names...)
	if !ok {
		return
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		e.fail(name, v, "not a whole number")
	case n < lo:
		e.fail(name, v, fmt.Sprintf("must be at least %d", lo))
	default:
		*dst = n
	}
}

// number reads a float within [lo, hi].
func (e *env) number(dst *float64, lo, hi float64, names ...string) bool {
	name, v, ok := e.get(names...)
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil:
		e.fail(name, v, "not a number")
	case f < lo || f > hi:
		if hi > 1e300 {
			e.fail(name, v, fmt.Sprintf("must be at least %g", lo))
		} else {
			e.fail(name, v, fmt.Sprintf("must be between %g and %g", lo, hi))
		}
	default:
		*dst = f
		return true
	}
	return false
}

// duration reads a positive duration: a Go duration under the EBB_ name,
// whole milliseconds under a name ending in _MS.
func (e *env) duration(dst *time.Duration, names ...string) (name, value string) {
	name, v, ok := e.get(names...)
	if !ok {
		return "", ""
	}
	var d time.Duration
	if strings.HasSuffix(name, "_MS") {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			e.fail(name, v, "not a whole number of milliseconds")
			return "", ""
		}
		d = time.Duration(ms) * time.Millisecond
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			e.fail(name, v, `not a duration (such as "250ms" or "2s")`)
			return "", ""
		}
	}
	if d <= 0 {
		e.fail(name, v, "must be positive")
		return "", ""
	}
	*dst = d
	return name, v
}

func fromEnv(lookup func(string) (string, bool)) ([]Option, error) {
	e := &env{lookup: lookup}

	var p retry.Policy
	e.wholeNumber(&p.MaxAttempts, 1, "EBB_RETRY_MAX_ATTEMPTS", "CAMUNDA_SDK_HTTP_RETRY_MAX_ATTEMPTS")
	initName, initValue := e.duration(&p.InitialInterval, "EBB_RETRY_INITIAL_INTERVAL", "CAMUNDA_SDK_HTTP_RETRY_BASE_DELAY_MS")
	maxName, maxValue := e.duration(&p.MaxInterval, "EBB_RETRY_MAX_INTERVAL", "CAMUNDA_SDK_HTTP_RETRY_MAX_DELAY_MS")
	if first, last := cmp.Or(p.InitialInterval, retry.DefaultInitialInterval), cmp.Or(p.MaxInterval, retry.DefaultMaxInterval); first > last {
		switch {
		case initName != "" && maxName != "":
			e.fail(initName, initValue, fmt.Sprintf("must not exceed %s=%q", maxName, maxValue))
		case initName != "":
			e.fail(initName, initValue, fmt.Sprintf("must not exceed the default delay cap of %v", last))
		default:
			e.fail(maxName, maxValue, fmt.Sprintf("must not be below the default first delay of %v", first))
		}
	}
	e.number(&p.Multiplier, 1, 1e308, "EBB_RETRY_MULTIPLIER")
	if e.number(&p.RandomizationFactor, 0, 1, "EBB_RETRY_RANDOMIZATION") && p.RandomizationFactor == 0 {
		p.RandomizationFactor = -1 // the Policy's spelling of "none"
	}
	e.duration(&p.MaxRetryAfter, "EBB_RETRY_MAX_RETRY_AFTER")
	if e.number(&p.BudgetRatio, 0, 1e308, "EBB_RETRY_BUDGET_RATIO") && p.BudgetRatio == 0 {
		p.BudgetRatio = -1
	}
	if len(e.errs) == 0 {
		if err := p.Validate(); err != nil {
			e.errs = append(e.errs, fmt.Errorf("retry settings from the environment: %w", err))
		}
	}

	opts := []Option{WithRetry(p), WithBreaker(e.breaker())}
	if name, v, ok := e.get("EBB_LIMITER_PROFILE", "CAMUNDA_SDK_BACKPRESSURE_PROFILE"); ok {
		if prof, err := limiter.ParseProfile(v); err != nil {
			e.fail(name, v, "not a profile (balanced, conservative, aggressive, observe, off; or Camunda's BALANCED, CONSERVATIVE, AGGRESSIVE, LEGACY)")
		} else {
			opts = append(opts, WithLimiter(limiter.Settings{Profile: prof}))
		}
	}
	if name, ns, ok := e.get("EBB_METRICS_NAMESPACE"); ok {
		if (metrics.Options{Namespace: ns}).Validate() != nil || ns == "" {
			e.fail(name, ns, "not a valid metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)")
		} else {
			opts = append(opts, WithMetricsNamespace(ns))
		}
	}

	if len(e.errs) > 0 {
		return nil, fmt.Errorf("transport: %w", errors.Join(e.errs...))
	}
	return opts, nil
}

// off reports whether a variable says "off"; it lets a setting whose zero
// value means "default" be turned off from the environment.
func (e *env) off(name string) bool {
	_, v, ok := e.get(name)
	return ok && strings.EqualFold(v, "off")
}

// breaker reads the EBB_BREAKER_* variables.
func (e *env) breaker() breaker.Settings {
	var s breaker.Settings
	if name, v, ok := e.get("EBB_BREAKER"); ok {
		switch strings.ToLower(v) {
		case "on", "true", "1":
		case "off", "false", "0":
			s.Disabled = true
		default:
			e.fail(name, v, "want on or off")
		}
	}
	e.duration(&s.Window, "EBB_BREAKER_WINDOW")
	if e.off("EBB_BREAKER_FAILURE_RATIO") {
		s.FailureRatio = -1
	} else if e.number(&s.FailureRatio, 0, 1, "EBB_BREAKER_FAILURE_RATIO") && s.FailureRatio == 0 {
		e.fail("EBB_BREAKER_FAILURE_RATIO", "0", `must be above 0 (or "off")`)
	}
	e.wholeNumber(&s.MinRequests, 1, "EBB_BREAKER_MIN_REQUESTS")
	if e.off("EBB_BREAKER_CONSECUTIVE_FAILURES") {
		s.ConsecutiveFailures = -1
	} else {
		e.wholeNumber(&s.ConsecutiveFailures, 1, "EBB_BREAKER_CONSECUTIVE_FAILURES")
	}
	e.duration(&s.OpenTimeout, "EBB_BREAKER_OPEN_TIMEOUT")
	if e.off("EBB_BREAKER_MAX_OPEN_TIMEOUT") {
		s.MaxOpenTimeout = -1
	} else {
		e.duration(&s.MaxOpenTimeout, "EBB_BREAKER_MAX_OPEN_TIMEOUT")
	}
	e.wholeNumber(&s.Probes, 1, "EBB_BREAKER_PROBES")
	if err := s.Validate(); err != nil {
		e.errs = append(e.errs, fmt.Errorf("breaker settings from the environment: %w", err))
	}
	return s
}
