package transport

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/metrics"
)

// FromEnv returns opts followed by the settings that the process environment
// sets, for workers configured by their deployment: write the program's own
// settings in code, and let the variables a deployment sets override them,
// field by field, and only those.
//
//	opts, err := transport.FromEnv(transport.WithRetry(retry.Policy{MaxAttempts: 3}))
//	if err != nil {
//		log.Fatal(err) // names each bad variable and its value
//	}
//	client := transport.NewClient(opts...)
//
// The environment's settings are applied after every other option, wherever
// they stand in the list given to [New], so they win over the code's
// whatever the order; a variable that is not set changes nothing. Every
// variable is optional; where both an EBB_ name and a Camunda SDK name are
// set, the EBB_ one wins. A variable set to the empty string counts as
// unset.
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
//	EBB_RETRY_BUDGET_RATIO                0.2      retries of failures per request, per host (number > 0, or off)
//	EBB_ATTEMPT_TIMEOUT                   off      bound on the wait for each attempt's and each probe's response headers;
//	                                               long polls get their requestTimeout on top; a probe bound set in
//	                                               code or by EBB_BREAKER_PROBE_TIMEOUT stays (Go duration > 0, or off;
//	                                               when off, only probes are bounded, by EBB_BREAKER_PROBE_TIMEOUT)
//	EBB_BREAKER                           on       circuit breaker (on or off)
//	EBB_BREAKER_WINDOW                    10s      rolling window over which failures are counted (Go duration > 0)
//	EBB_BREAKER_FAILURE_RATIO             0.5      trips at this share of failed requests (0 < r <= 1, or off)
//	EBB_BREAKER_MIN_REQUESTS              10       fewest requests in the window for the ratio to apply (>= 1)
//	EBB_BREAKER_CONSECUTIVE_FAILURES      5        trips after this many failures in a row (>= 1, or off)
//	EBB_BREAKER_OPEN_TIMEOUT              100ms    first open period after a trip (Go duration > 0)
//	EBB_BREAKER_MAX_OPEN_TIMEOUT          500ms    cap of the open period as failed probes double it (Go duration > 0,
//	                                               or off: every period is the first)
//	EBB_BREAKER_MAX_RETRY_AFTER           60s      cap on a Retry-After holding the breaker open (Go duration > 0, or off)
//	EBB_BREAKER_PROBES                    1        requests let through while half-open (>= 1)
//	EBB_BREAKER_PROBE_TIMEOUT             10s      bound on the wait for a probe's response headers, plus a long poll's
//	                                               requestTimeout (Go duration > 0, or off)
//	EBB_LIMITER_PROFILE                   balanced adaptive concurrency limit: balanced, conservative, aggressive,
//	  CAMUNDA_SDK_BACKPRESSURE_PROFILE              observe (track, never hold back) or off; the Camunda name
//	                                                takes BALANCED, CONSERVATIVE, AGGRESSIVE and LEGACY (= observe)
//	EBB_METRICS_NAMESPACE                 ebb      prefix of the metric names (with WithMetrics)
//
// One rule holds for every variable: the word "off" (in any case) turns a
// feature off, "on" turns it on, and a number means that number — a value the setting
// cannot take (such as a zero attempts or a zero ratio) is an error rather
// than a silent default.
//
// A malformed or out-of-range value is an error naming the variable and the
// value, such as EBB_RETRY_MAX_ATTEMPTS="many": not a whole number; it is
// never replaced by a default. So is a value that conflicts with the code's
// settings passed in opts (EBB_RETRY_INITIAL_INTERVAL above the code's
// MaxInterval), and a variable named EBB_* that ebb does not read, which is
// most often a misspelling (the error names the closest known variable).
// All such errors are reported together.
func FromEnv(opts ...Option) ([]Option, error) {
	return fromEnv(os.LookupEnv, os.Environ(), opts)
}

// variables lists every variable FromEnv reads, with the Go field each one
// sets (layer.Field), to name a variable in the errors of the settings'
// Validate.
var variables = []struct{ name, field string }{
	{"EBB_RETRY_MAX_ATTEMPTS", "retry.MaxAttempts"},
	{"CAMUNDA_SDK_HTTP_RETRY_MAX_ATTEMPTS", "retry.MaxAttempts"},
	{"EBB_RETRY_INITIAL_INTERVAL", "retry.InitialInterval"},
	{"CAMUNDA_SDK_HTTP_RETRY_BASE_DELAY_MS", "retry.InitialInterval"},
	{"EBB_RETRY_MAX_INTERVAL", "retry.MaxInterval"},
	{"CAMUNDA_SDK_HTTP_RETRY_MAX_DELAY_MS", "retry.MaxInterval"},
	{"EBB_RETRY_MULTIPLIER", "retry.Multiplier"},
	{"EBB_RETRY_RANDOMIZATION", "retry.RandomizationFactor"},
	{"EBB_RETRY_MAX_RETRY_AFTER", "retry.MaxRetryAfter"},
	{"EBB_RETRY_BUDGET_RATIO", "retry.BudgetRatio"},
	{"EBB_ATTEMPT_TIMEOUT", "retry.AttemptTimeout"},
	{"EBB_BREAKER", "breaker.Disabled"},
	{"EBB_BREAKER_WINDOW", "breaker.Window"},
	{"EBB_BREAKER_FAILURE_RATIO", "breaker.FailureRatio"},
	{"EBB_BREAKER_MIN_REQUESTS", "breaker.MinRequests"},
	{"EBB_BREAKER_CONSECUTIVE_FAILURES", "breaker.ConsecutiveFailures"},
	{"EBB_BREAKER_OPEN_TIMEOUT", "breaker.OpenTimeout"},
	{"EBB_BREAKER_MAX_OPEN_TIMEOUT", "breaker.MaxOpenTimeout"},
	{"EBB_BREAKER_MAX_RETRY_AFTER", "breaker.MaxRetryAfter"},
	{"EBB_BREAKER_PROBES", "breaker.Probes"},
	{"EBB_BREAKER_PROBE_TIMEOUT", "breaker.ProbeTimeout"},
	{"EBB_LIMITER_PROFILE", "limiter.Profile"},
	{"CAMUNDA_SDK_BACKPRESSURE_PROFILE", "limiter.Profile"},
	{"EBB_METRICS_NAMESPACE", "metrics.Namespace"},
}

// env reads variables through lookup, gathers every error, and collects a
// patch per variable set.
type env struct {
	lookup  func(string) (string, bool)
	errs    []error
	patches []func(*config)
	set     map[string]string // layer.Field -> NAME="value" of the variable that set it
}

// envOption applies the environment's patches after every other option.
type envOption []func(*config)

func (o envOption) apply(c *config) { c.env = append(c.env, o...) }

func fromEnv(lookup func(string) (string, bool), environ []string, opts []Option) ([]Option, error) {
	e := &env{lookup: lookup, set: map[string]string{}}
	e.unknown(environ)
	e.retry()
	e.breaker()
	e.limiter()
	e.namespace()
	if len(e.errs) == 0 {
		e.check(opts)
	}
	if len(e.errs) > 0 {
		return nil, fmt.Errorf("transport: %w", errors.Join(e.errs...))
	}
	return append(slices.Clip(opts), envOption(e.patches)), nil
}

// check validates the code's settings with the environment's on top, and
// names the variables behind a setting that does not hold.
func (e *env) check(opts []Option) {
	c := newConfig(opts)
	for _, p := range e.patches {
		p(&c)
	}
	for _, err := range []error{c.retry.Validate(), c.breaker.Validate(), c.limiter.Validate()} {
		if err != nil {
			e.errs = append(e.errs, e.blame(err))
		}
	}
}

// blame turns a Validate error ("pkg: invalid ...: Field = value: why")
// into one that names the variables behind it, so that the message points
// at what the deployment can change.
func (e *env) blame(err error) error {
	msg := err.Error()
	layer, _, _ := strings.Cut(msg, ":") // "retry: invalid policy: ..."
	field, why := "", msg
	if i := strings.Index(msg, " = "); i >= 0 {
		field = msg[strings.LastIndex(msg[:i], " ")+1 : i]
		if k := strings.Index(msg[i+3:], ": "); k >= 0 {
			why = msg[i+3+k+2:]
		}
	}
	var others []string
	for f, v := range e.set {
		l, name, _ := strings.Cut(f, ".")
		if l == layer && name != field && strings.Contains(why, name) {
			others = append(others, v)
		}
	}
	slices.Sort(others)
	switch primary := e.set[layer+"."+field]; {
	case primary != "" && len(others) > 0:
		return fmt.Errorf("%s: %s, set by %s", primary, why, strings.Join(others, ", "))
	case primary != "":
		return fmt.Errorf("%s: %s", primary, why)
	case len(others) > 0:
		return fmt.Errorf("%s: conflicts with the settings in code, or their defaults: %w", strings.Join(others, ", "), err)
	}
	return fmt.Errorf("settings from the environment: %w", err)
}

// get returns the value of the first of names that is set, and its name.
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

// apply records a patch set by variable name, under the Go field that
// variables says it sets.
func (e *env) apply(name, value string, p func(*config)) {
	e.patches = append(e.patches, p)
	e.set[fieldOf(name)] = fmt.Sprintf("%s=%q", name, value)
}

// whole reads an integer of at least 1.
func (e *env) whole(set func(*config, int), names ...string) {
	name, v, ok := e.get(names...)
	if !ok {
		return
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		e.fail(name, v, "not a whole number")
	case n < 1:
		e.fail(name, v, "must be at least 1")
	default:
		e.apply(name, v, func(c *config) { set(c, n) })
	}
}

// number reads a finite number; off, when allowed, comes as ok with off set.
func (e *env) number(allowOff bool, set func(c *config, f float64, off bool), names ...string) {
	name, v, ok := e.get(names...)
	if !ok {
		return
	}
	if allowOff && strings.EqualFold(v, "off") {
		e.apply(name, v, func(c *config) { set(c, 0, true) })
		return
	}
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		why := "not a finite number"
		if allowOff {
			why += ` (or "off")`
		}
		e.fail(name, v, why)
	case f < 0:
		e.fail(name, v, "must not be negative")
	default:
		e.apply(name, v, func(c *config) { set(c, f, false) })
	}
}

// duration reads a positive duration: a Go duration under an EBB_ name,
// whole milliseconds under a name ending in _MS; off, when allowed, comes
// as a zero duration with off set.
func (e *env) duration(allowOff bool, set func(c *config, d time.Duration, off bool), names ...string) {
	name, v, ok := e.get(names...)
	if !ok {
		return
	}
	if allowOff && strings.EqualFold(v, "off") {
		e.apply(name, v, func(c *config) { set(c, 0, true) })
		return
	}
	var d time.Duration
	if strings.HasSuffix(name, "_MS") {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			e.fail(name, v, "not a whole number of milliseconds")
			return
		}
		d = time.Duration(ms) * time.Millisecond
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			why := `not a duration (such as "250ms" or "2s")`
			if allowOff {
				why = `not a duration (such as "250ms" or "2s") or "off"`
			}
			e.fail(name, v, why)
			return
		}
	}
	if d <= 0 {
		e.fail(name, v, "must be positive")
		return
	}
	e.apply(name, v, func(c *config) { set(c, d, false) })
}

// ratio reads a number above 0, or off, which the settings spell -1. A zero
// would read as "the default" in Go, so it is refused rather than guessed.
func (e *env) ratio(dst func(*config) *float64, name string) {
	if e.zero(name, `must be above 0 (or "off")`) {
		return
	}
	e.number(true, func(c *config, f float64, off bool) {
		if off {
			f = -1
		}
		*dst(c) = f
	}, name)
}

// zero refuses, with why, a value of name that reads as the number 0 in
// any spelling (0.0, 0e3), where a zero in the settings means "the
// default", and reports whether it did.
func (e *env) zero(name, why string) bool {
	_, v, ok := e.get(name)
	if !ok {
		return false
	}
	if f, err := strconv.ParseFloat(v, 64); err != nil || f != 0 {
		return false
	}
	e.fail(name, v, why)
	return true
}

func (e *env) retry() {
	e.whole(func(c *config, n int) { c.retry.MaxAttempts = n },
		"EBB_RETRY_MAX_ATTEMPTS", "CAMUNDA_SDK_HTTP_RETRY_MAX_ATTEMPTS")
	e.duration(false, func(c *config, d time.Duration, _ bool) { c.retry.InitialInterval = d },
		"EBB_RETRY_INITIAL_INTERVAL", "CAMUNDA_SDK_HTTP_RETRY_BASE_DELAY_MS")
	e.duration(false, func(c *config, d time.Duration, _ bool) { c.retry.MaxInterval = d },
		"EBB_RETRY_MAX_INTERVAL", "CAMUNDA_SDK_HTTP_RETRY_MAX_DELAY_MS")
	if !e.zero("EBB_RETRY_MULTIPLIER", "must be at least 1") {
		e.number(false, func(c *config, f float64, _ bool) { c.retry.Multiplier = f }, "EBB_RETRY_MULTIPLIER")
	}
	e.number(false, func(c *config, f float64, _ bool) {
		c.retry.RandomizationFactor = f
		if f == 0 {
			c.retry.RandomizationFactor = -1 // the Policy's spelling of "none"
		}
	}, "EBB_RETRY_RANDOMIZATION")
	e.duration(false, func(c *config, d time.Duration, _ bool) { c.retry.MaxRetryAfter = d }, "EBB_RETRY_MAX_RETRY_AFTER")
	e.ratio(func(c *config) *float64 { return &c.retry.BudgetRatio }, "EBB_RETRY_BUDGET_RATIO")
	e.duration(true, func(c *config, d time.Duration, _ bool) {
		c.attemptTimeout, c.attemptTimeoutSet = d, true
	}, "EBB_ATTEMPT_TIMEOUT")
}

func (e *env) breaker() {
	if name, v, ok := e.get("EBB_BREAKER"); ok {
		switch {
		case strings.EqualFold(v, "on"), strings.EqualFold(v, "off"):
			e.apply(name, v, func(c *config) { c.breaker.Disabled = strings.EqualFold(v, "off") })
		default:
			e.fail(name, v, `want "on" or "off"`)
		}
	}
	e.duration(false, func(c *config, d time.Duration, _ bool) { c.breaker.Window = d }, "EBB_BREAKER_WINDOW")
	e.ratio(func(c *config) *float64 { return &c.breaker.FailureRatio }, "EBB_BREAKER_FAILURE_RATIO")
	e.whole(func(c *config, n int) { c.breaker.MinRequests = n }, "EBB_BREAKER_MIN_REQUESTS")
	if name, v, ok := e.get("EBB_BREAKER_CONSECUTIVE_FAILURES"); ok && strings.EqualFold(v, "off") {
		e.apply(name, v, func(c *config) { c.breaker.ConsecutiveFailures = -1 })
	} else {
		e.whole(func(c *config, n int) { c.breaker.ConsecutiveFailures = n }, "EBB_BREAKER_CONSECUTIVE_FAILURES")
	}
	e.duration(false, func(c *config, d time.Duration, _ bool) { c.breaker.OpenTimeout = d }, "EBB_BREAKER_OPEN_TIMEOUT")
	e.duration(true, func(c *config, d time.Duration, off bool) {
		c.breaker.MaxOpenTimeout = d
		if off {
			c.breaker.MaxOpenTimeout = -1
		}
	}, "EBB_BREAKER_MAX_OPEN_TIMEOUT")
	e.duration(true, func(c *config, d time.Duration, off bool) {
		c.breaker.MaxRetryAfter = d
		if off {
			c.breaker.MaxRetryAfter = -1
		}
	}, "EBB_BREAKER_MAX_RETRY_AFTER")
	e.whole(func(c *config, n int) { c.breaker.Probes = n }, "EBB_BREAKER_PROBES")
	e.duration(true, func(c *config, d time.Duration, off bool) {
		c.breaker.ProbeTimeout = d
		if off {
			c.breaker.ProbeTimeout = -1
		}
	}, "EBB_BREAKER_PROBE_TIMEOUT")
}

func (e *env) limiter() {
	name, v, ok := e.get("EBB_LIMITER_PROFILE", "CAMUNDA_SDK_BACKPRESSURE_PROFILE")
	if !ok {
		return
	}
	p, err := limiter.ParseProfile(v)
	if err != nil {
		e.fail(name, v, "not a profile (balanced, conservative, aggressive, observe, off; or Camunda's BALANCED, CONSERVATIVE, AGGRESSIVE, LEGACY)")
		return
	}
	e.apply(name, v, func(c *config) { c.limiter.Profile = p })
}

func (e *env) namespace() {
	name, ns, ok := e.get("EBB_METRICS_NAMESPACE")
	if !ok {
		return
	}
	if (metrics.Options{Namespace: ns}).Validate() != nil {
		e.fail(name, ns, "not a valid metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)")
		return
	}
	e.apply(name, ns, func(c *config) { c.namespace = ns })
}

// unknown reports every EBB_ variable that ebb does not read, with the
// closest known name: a misspelt variable silently ignored is a setting a
// deployment believes it made.
func (e *env) unknown(environ []string) {
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "EBB_") || known(name) || value == "" {
			// An empty variable counts as unset, known or not.
			continue
		}
		best, dist := "", math.MaxInt
		for _, v := range variables {
			if d := editDistance(name, v.name); d < dist {
				best, dist = v.name, d
			}
		}
		why := "not a variable ebb reads"
		if dist <= len(name)/3 {
			why += "; did you mean " + best + "?"
		}
		e.fail(name, value, why)
	}
}

func known(name string) bool { return fieldOf(name) != "" }

// fieldOf returns the Go field variable name sets, "" for none.
func fieldOf(name string) string {
	for _, v := range variables {
		if v.name == name {
			return v.field
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
