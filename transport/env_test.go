package transport

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/retry"
)

func lookupFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// configOf applies the options to a fresh config.
func configOf(opts []Option) config { return newConfig(opts) }

// envOf runs FromEnv over the variables of m, after the options opts.
func envOf(m map[string]string, opts ...Option) ([]Option, error) {
	var environ []string
	for k, v := range m {
		environ = append(environ, k+"="+v)
	}
	return fromEnv(lookupFrom(m), environ, opts)
}

// policyOf applies the options to a fresh config and returns its policy.
func policyOf(opts []Option) retry.Policy { return configOf(opts).retry }

func TestFromEnvRetry(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want retry.Policy
	}{
		{"nothing set", nil, retry.Policy{}},
		{"attempts", map[string]string{"EBB_RETRY_MAX_ATTEMPTS": "3"}, retry.Policy{MaxAttempts: 3}},
		{"attempts camunda", map[string]string{"CAMUNDA_SDK_HTTP_RETRY_MAX_ATTEMPTS": "7"}, retry.Policy{MaxAttempts: 7}},
		{"attempts both: EBB wins", map[string]string{"EBB_RETRY_MAX_ATTEMPTS": "2", "CAMUNDA_SDK_HTTP_RETRY_MAX_ATTEMPTS": "9"}, retry.Policy{MaxAttempts: 2}},
		{"attempts one", map[string]string{"EBB_RETRY_MAX_ATTEMPTS": "1"}, retry.Policy{MaxAttempts: 1}},
		{"initial", map[string]string{"EBB_RETRY_INITIAL_INTERVAL": "250ms"}, retry.Policy{InitialInterval: 250 * time.Millisecond}},
		{"initial camunda ms", map[string]string{"CAMUNDA_SDK_HTTP_RETRY_BASE_DELAY_MS": "50"}, retry.Policy{InitialInterval: 50 * time.Millisecond}},
		{"initial both: EBB wins", map[string]string{"EBB_RETRY_INITIAL_INTERVAL": "1s", "CAMUNDA_SDK_HTTP_RETRY_BASE_DELAY_MS": "50"}, retry.Policy{InitialInterval: time.Second}},
		{"max", map[string]string{"EBB_RETRY_MAX_INTERVAL": "20s"}, retry.Policy{MaxInterval: 20 * time.Second}},
		{"max camunda ms", map[string]string{"CAMUNDA_SDK_HTTP_RETRY_MAX_DELAY_MS": "2000"}, retry.Policy{MaxInterval: 2 * time.Second}},
		{"max both: EBB wins", map[string]string{"EBB_RETRY_MAX_INTERVAL": "3s", "CAMUNDA_SDK_HTTP_RETRY_MAX_DELAY_MS": "2000"}, retry.Policy{MaxInterval: 3 * time.Second}},
		{"multiplier", map[string]string{"EBB_RETRY_MULTIPLIER": "1.5"}, retry.Policy{Multiplier: 1.5}},
		{"multiplier one", map[string]string{"EBB_RETRY_MULTIPLIER": "1"}, retry.Policy{Multiplier: 1}},
		{"randomization", map[string]string{"EBB_RETRY_RANDOMIZATION": "0.25"}, retry.Policy{RandomizationFactor: 0.25}},
		{"randomization none", map[string]string{"EBB_RETRY_RANDOMIZATION": "0"}, retry.Policy{RandomizationFactor: -1}},
		{"randomization full", map[string]string{"EBB_RETRY_RANDOMIZATION": "1"}, retry.Policy{RandomizationFactor: 1}},
		{"retry-after cap", map[string]string{"EBB_RETRY_MAX_RETRY_AFTER": "1m"}, retry.Policy{MaxRetryAfter: time.Minute}},
		{"budget", map[string]string{"EBB_RETRY_BUDGET_RATIO": "0.5"}, retry.Policy{BudgetRatio: 0.5}},
		{"budget off", map[string]string{"EBB_RETRY_BUDGET_RATIO": "off"}, retry.Policy{BudgetRatio: -1}},
		{"spaces trimmed", map[string]string{"EBB_RETRY_MAX_ATTEMPTS": " 4 "}, retry.Policy{MaxAttempts: 4}},
		{"empty counts as unset", map[string]string{"EBB_RETRY_MAX_ATTEMPTS": "", "CAMUNDA_SDK_HTTP_RETRY_MAX_ATTEMPTS": "6"}, retry.Policy{MaxAttempts: 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := envOf(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := policyOf(opts); got != tt.want {
				t.Fatalf("policy = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFromEnvErrors(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"EBB_RETRY_MAX_ATTEMPTS": "many"}, `EBB_RETRY_MAX_ATTEMPTS="many": not a whole number`},
		{map[string]string{"EBB_RETRY_MAX_ATTEMPTS": "0"}, `EBB_RETRY_MAX_ATTEMPTS="0": must be at least 1`},
		{map[string]string{"EBB_RETRY_MAX_ATTEMPTS": "-2"}, `EBB_RETRY_MAX_ATTEMPTS="-2": must be at least 1`},
		{map[string]string{"EBB_RETRY_MAX_ATTEMPTS": "2.5"}, `EBB_RETRY_MAX_ATTEMPTS="2.5": not a whole number`},
		{map[string]string{"CAMUNDA_SDK_HTTP_RETRY_MAX_ATTEMPTS": "x"}, `CAMUNDA_SDK_HTTP_RETRY_MAX_ATTEMPTS="x": not a whole number`},
		{map[string]string{"EBB_RETRY_INITIAL_INTERVAL": "100"}, `EBB_RETRY_INITIAL_INTERVAL="100": not a duration`},
		{map[string]string{"EBB_RETRY_INITIAL_INTERVAL": "-1s"}, `EBB_RETRY_INITIAL_INTERVAL="-1s": must be positive`},
		{map[string]string{"EBB_RETRY_INITIAL_INTERVAL": "0s"}, `EBB_RETRY_INITIAL_INTERVAL="0s": must be positive`},
		{map[string]string{"CAMUNDA_SDK_HTTP_RETRY_BASE_DELAY_MS": "1s"}, `CAMUNDA_SDK_HTTP_RETRY_BASE_DELAY_MS="1s": not a whole number of milliseconds`},
		{map[string]string{"CAMUNDA_SDK_HTTP_RETRY_MAX_DELAY_MS": "-5"}, `CAMUNDA_SDK_HTTP_RETRY_MAX_DELAY_MS="-5": must be positive`},
		{map[string]string{"EBB_RETRY_MAX_INTERVAL": "soon"}, `EBB_RETRY_MAX_INTERVAL="soon": not a duration`},
		{map[string]string{"EBB_RETRY_MULTIPLIER": "0.5"}, `EBB_RETRY_MULTIPLIER="0.5": must be at least 1`},
		{map[string]string{"EBB_RETRY_MULTIPLIER": "NaN"}, `EBB_RETRY_MULTIPLIER="NaN": not a finite number`},
		{map[string]string{"EBB_RETRY_RANDOMIZATION": "NaN"}, `EBB_RETRY_RANDOMIZATION="NaN": not a finite number`},
		{map[string]string{"EBB_RETRY_BUDGET_RATIO": "NaN"}, `EBB_RETRY_BUDGET_RATIO="NaN": not a finite number (or "off")`},
		{map[string]string{"EBB_RETRY_MULTIPLIER": "+Inf"}, `EBB_RETRY_MULTIPLIER="+Inf": not a finite number`},
		{map[string]string{"EBB_RETRY_BUDGET_RATIO": "0"}, `EBB_RETRY_BUDGET_RATIO="0": must be above 0 (or "off")`},
		{map[string]string{"EBB_RETRY_BUDGET_RATIO": "0.0"}, `EBB_RETRY_BUDGET_RATIO="0.0": must be above 0 (or "off")`},
		{map[string]string{"EBB_RETRY_MULTIPLIER": "0"}, `EBB_RETRY_MULTIPLIER="0": must be at least 1`},
		{map[string]string{"EBB_ATTEMPT_TIMEOUT": "0s"}, `EBB_ATTEMPT_TIMEOUT="0s": must be positive`},
		{map[string]string{"EBB_ATTEMPT_TIMEOUT": "soon"}, `EBB_ATTEMPT_TIMEOUT="soon": not a duration (such as "250ms" or "2s") or "off"`},
		{map[string]string{"EBB_RETRY_MULTIPLIER": "two"}, `EBB_RETRY_MULTIPLIER="two": not a finite number`},
		{map[string]string{"EBB_RETRY_RANDOMIZATION": "1.5"}, `EBB_RETRY_RANDOMIZATION="1.5": must be at most 1`},
		{map[string]string{"EBB_RETRY_RANDOMIZATION": "-0.1"}, `EBB_RETRY_RANDOMIZATION="-0.1": must not be negative`},
		{map[string]string{"EBB_RETRY_MAX_RETRY_AFTER": "-1s"}, `EBB_RETRY_MAX_RETRY_AFTER="-1s": must be positive`},
		{map[string]string{"EBB_RETRY_BUDGET_RATIO": "-1"}, `EBB_RETRY_BUDGET_RATIO="-1": must not be negative`},
		{map[string]string{"EBB_RETRY_INITIAL_INTERVAL": "10s"}, `EBB_RETRY_INITIAL_INTERVAL="10s": must not exceed MaxInterval (5s)`},
		{map[string]string{"EBB_RETRY_MAX_INTERVAL": "50ms"}, `EBB_RETRY_MAX_INTERVAL="50ms": conflicts with the settings in code`},
		{map[string]string{"EBB_RETRY_INITIAL_INTERVAL": "2s", "CAMUNDA_SDK_HTTP_RETRY_MAX_DELAY_MS": "1000"}, `EBB_RETRY_INITIAL_INTERVAL="2s": must not exceed MaxInterval (1s), set by CAMUNDA_SDK_HTTP_RETRY_MAX_DELAY_MS="1000"`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			opts, err := envOf(tt.env)
			if err == nil || opts != nil {
				t.Fatalf("want an error, got %v", opts)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}

	// Every bad variable is reported at once.
	_, err := envOf((map[string]string{"EBB_RETRY_MAX_ATTEMPTS": "x", "EBB_RETRY_MULTIPLIER": "y"}))
	if err == nil || !strings.Contains(err.Error(), "EBB_RETRY_MAX_ATTEMPTS") || !strings.Contains(err.Error(), "EBB_RETRY_MULTIPLIER") {
		t.Fatalf("err = %v, want both variables named", err)
	}
}

func TestFromEnvReadsProcessEnvironment(t *testing.T) {
	t.Setenv("EBB_RETRY_MAX_ATTEMPTS", "3")
	opts, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if got := policyOf(opts).MaxAttempts; got != 3 {
		t.Fatalf("MaxAttempts = %d", got)
	}
	t.Setenv("EBB_RETRY_MAX_ATTEMPTS", "lots")
	if _, err := FromEnv(); err == nil {
		t.Fatal("want an error")
	}
}

func TestFromEnvMetricsNamespace(t *testing.T) {
	opts, err := envOf((map[string]string{"EBB_METRICS_NAMESPACE": "worker_http"}))
	if err != nil {
		t.Fatal(err)
	}
	c := configOf(opts)
	if c.namespace != "worker_http" {
		t.Fatalf("namespace = %q", c.namespace)
	}
	for _, bad := range []string{"1abc", "with-dash", "a b"} {
		_, err := envOf((map[string]string{"EBB_METRICS_NAMESPACE": bad}))
		if err == nil || !strings.Contains(err.Error(), `EBB_METRICS_NAMESPACE="`+bad+`"`) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestFromEnvBreaker(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want breaker.Settings
	}{
		{nil, breaker.Settings{}},
		{map[string]string{"EBB_BREAKER": "off"}, breaker.Settings{Disabled: true}},
		{map[string]string{"EBB_BREAKER": "on"}, breaker.Settings{}},
		{map[string]string{"EBB_BREAKER_WINDOW": "30s"}, breaker.Settings{Window: 30 * time.Second}},
		{map[string]string{"EBB_BREAKER_FAILURE_RATIO": "0.8"}, breaker.Settings{FailureRatio: 0.8}},
		{map[string]string{"EBB_BREAKER_FAILURE_RATIO": "off"}, breaker.Settings{FailureRatio: -1}},
		{map[string]string{"EBB_BREAKER_MIN_REQUESTS": "20"}, breaker.Settings{MinRequests: 20}},
		{map[string]string{"EBB_BREAKER_CONSECUTIVE_FAILURES": "3"}, breaker.Settings{ConsecutiveFailures: 3}},
		{map[string]string{"EBB_BREAKER_CONSECUTIVE_FAILURES": "OFF"}, breaker.Settings{ConsecutiveFailures: -1}},
		{map[string]string{"EBB_BREAKER_OPEN_TIMEOUT": "2s"}, breaker.Settings{OpenTimeout: 2 * time.Second}},
		{map[string]string{"EBB_BREAKER_MAX_OPEN_TIMEOUT": "5m"}, breaker.Settings{MaxOpenTimeout: 5 * time.Minute}},
		{map[string]string{"EBB_BREAKER_MAX_OPEN_TIMEOUT": "off"}, breaker.Settings{MaxOpenTimeout: -1}},
		{map[string]string{"EBB_BREAKER_PROBES": "3"}, breaker.Settings{Probes: 3}},
		{map[string]string{"EBB_BREAKER_MAX_RETRY_AFTER": "2m"}, breaker.Settings{MaxRetryAfter: 2 * time.Minute}},
		{map[string]string{"EBB_BREAKER_MAX_RETRY_AFTER": "off"}, breaker.Settings{MaxRetryAfter: -1}},
		{map[string]string{"EBB_BREAKER_PROBE_TIMEOUT": "3s"}, breaker.Settings{ProbeTimeout: 3 * time.Second}},
		{map[string]string{"EBB_BREAKER_PROBE_TIMEOUT": "off"}, breaker.Settings{ProbeTimeout: -1}},
		{map[string]string{"EBB_ATTEMPT_TIMEOUT": "4s"}, breaker.Settings{ProbeTimeout: 4 * time.Second}},
	}
	for _, tt := range tests {
		opts, err := envOf(tt.env)
		if err != nil {
			t.Fatalf("%v: %v", tt.env, err)
		}
		if got := configOf(opts).breaker; got != tt.want {
			t.Errorf("%v: settings = %+v, want %+v", tt.env, got, tt.want)
		}
	}

	bad := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"EBB_BREAKER": "maybe"}, `EBB_BREAKER="maybe": want "on" or "off"`},
		{map[string]string{"EBB_BREAKER_WINDOW": "-1s"}, `EBB_BREAKER_WINDOW="-1s": must be positive`},
		{map[string]string{"EBB_BREAKER_FAILURE_RATIO": "1.5"}, `EBB_BREAKER_FAILURE_RATIO="1.5": must be at most 1`},
		{map[string]string{"EBB_BREAKER_FAILURE_RATIO": "0"}, `EBB_BREAKER_FAILURE_RATIO="0": must be above 0`},
		{map[string]string{"EBB_BREAKER_FAILURE_RATIO": "0.00"}, `EBB_BREAKER_FAILURE_RATIO="0.00": must be above 0`},
		{map[string]string{"EBB_BREAKER_MIN_REQUESTS": "0"}, `EBB_BREAKER_MIN_REQUESTS="0": must be at least 1`},
		{map[string]string{"EBB_BREAKER_CONSECUTIVE_FAILURES": "few"}, `EBB_BREAKER_CONSECUTIVE_FAILURES="few": not a whole number`},
		{map[string]string{"EBB_BREAKER_OPEN_TIMEOUT": "10"}, `EBB_BREAKER_OPEN_TIMEOUT="10": not a duration`},
		{map[string]string{"EBB_BREAKER_PROBES": "0"}, `EBB_BREAKER_PROBES="0": must be at least 1`},
		{map[string]string{"EBB_BREAKER_FAILURE_RATIO": "off", "EBB_BREAKER_CONSECUTIVE_FAILURES": "off"}, `set by EBB_BREAKER_CONSECUTIVE_FAILURES="off"`},
		{map[string]string{"EBB_BREAKER": "FALSE"}, `EBB_BREAKER="FALSE": want "on" or "off"`},
	}
	for _, tt := range bad {
		if _, err := envOf(tt.env); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.env, err, tt.want)
		}
	}
}

func TestFromEnvLimiter(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want limiter.Profile
	}{
		{nil, limiter.Balanced},
		{map[string]string{"EBB_LIMITER_PROFILE": "conservative"}, limiter.Conservative},
		{map[string]string{"EBB_LIMITER_PROFILE": "aggressive"}, limiter.Aggressive},
		{map[string]string{"EBB_LIMITER_PROFILE": "observe"}, limiter.Observe},
		{map[string]string{"EBB_LIMITER_PROFILE": "off"}, limiter.Off},
		{map[string]string{"EBB_LIMITER_PROFILE": "Balanced"}, limiter.Balanced},
		{map[string]string{"CAMUNDA_SDK_BACKPRESSURE_PROFILE": "BALANCED"}, limiter.Balanced},
		{map[string]string{"CAMUNDA_SDK_BACKPRESSURE_PROFILE": "CONSERVATIVE"}, limiter.Conservative},
		{map[string]string{"CAMUNDA_SDK_BACKPRESSURE_PROFILE": "AGGRESSIVE"}, limiter.Aggressive},
		{map[string]string{"CAMUNDA_SDK_BACKPRESSURE_PROFILE": "LEGACY"}, limiter.Observe},
		{map[string]string{"EBB_LIMITER_PROFILE": "off", "CAMUNDA_SDK_BACKPRESSURE_PROFILE": "AGGRESSIVE"}, limiter.Off},
	}
	for _, tt := range tests {
		opts, err := envOf(tt.env)
		if err != nil {
			t.Fatalf("%v: %v", tt.env, err)
		}
		if got := configOf(opts).limiter.Profile; got != tt.want {
			t.Errorf("%v: profile = %v, want %v", tt.env, got, tt.want)
		}
	}
	for _, tt := range []struct{ name, value string }{{"EBB_LIMITER_PROFILE", "fast"}, {"CAMUNDA_SDK_BACKPRESSURE_PROFILE", "TURBO"}} {
		_, err := envOf((map[string]string{tt.name: tt.value}))
		if want := tt.name + `="` + tt.value + `": not a profile`; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// TestFromEnvComposesWithCode: the code's settings stay where the
// environment says nothing, and the environment wins where it does, in
// whichever order the options are given (issue 11).
func TestFromEnvComposesWithCode(t *testing.T) {
	code := WithRetry(retry.Policy{MaxAttempts: 2, InitialInterval: 50 * time.Millisecond})
	env := map[string]string{"EBB_RETRY_INITIAL_INTERVAL": "250ms", "EBB_BREAKER_PROBES": "3"}
	want := retry.Policy{MaxAttempts: 2, InitialInterval: 250 * time.Millisecond}

	opts, err := envOf(env, code) // FromEnv(code...)
	if err != nil {
		t.Fatal(err)
	}
	if got := policyOf(opts); got != want {
		t.Errorf("FromEnv(code): policy = %+v, want %+v", got, want)
	}
	if got := configOf(opts).breaker.Probes; got != 3 {
		t.Errorf("FromEnv(code): probes = %d, want 3", got)
	}

	envOnly, err := envOf(env)
	if err != nil {
		t.Fatal(err)
	}
	for name, order := range map[string][]Option{
		"code then env": append([]Option{code}, envOnly...),
		"env then code": append(slices.Clone(envOnly), code),
	} {
		if got := policyOf(order); got != want {
			t.Errorf("%s: policy = %+v, want %+v", name, got, want)
		}
	}
	// Nothing set: the code's settings stand whole.
	none, _ := envOf(nil, code)
	if got := policyOf(none); got != (retry.Policy{MaxAttempts: 2, InitialInterval: 50 * time.Millisecond}) {
		t.Errorf("no variables: policy = %+v", got)
	}
	// A variable that conflicts with the code is named.
	_, err = envOf(map[string]string{"EBB_RETRY_MAX_INTERVAL": "20ms"}, code)
	if err == nil || !strings.Contains(err.Error(), `EBB_RETRY_MAX_INTERVAL="20ms": conflicts with the settings in code`) {
		t.Errorf("conflict with code: %v", err)
	}
}

func TestFromEnvUnknownVariable(t *testing.T) {
	_, err := envOf(map[string]string{"EBB_RETRY_MAXATTEMPTS": "3", "EBB_WHATEVER_ELSE_ENTIRELY": "1", "OTHER_VAR": "x"})
	if err == nil {
		t.Fatal("a misspelt variable was ignored")
	}
	if !strings.Contains(err.Error(), `EBB_RETRY_MAXATTEMPTS="3": not a variable ebb reads; did you mean EBB_RETRY_MAX_ATTEMPTS?`) {
		t.Errorf("err = %v", err)
	}
	if !strings.Contains(err.Error(), `EBB_WHATEVER_ELSE_ENTIRELY="1": not a variable ebb reads`) || strings.Contains(err.Error(), "OTHER_VAR") {
		t.Errorf("err = %v", err)
	}
}

// An empty variable counts as unset, an unknown one too.
func TestFromEnvUnknownEmpty(t *testing.T) {
	if _, err := envOf(map[string]string{"EBB_RETRY_MAXATTEMPTS": ""}); err != nil {
		t.Errorf("an empty unknown variable: %v", err)
	}
}

func TestAttemptTimeoutOption(t *testing.T) {
	opts, err := envOf(map[string]string{"EBB_ATTEMPT_TIMEOUT": "3s"})
	if err != nil {
		t.Fatal(err)
	}
	// The environment's bound survives a later WithRetry, and wins over a
	// later WithAttemptTimeout.
	opts = append(opts, WithRetry(retry.Policy{MaxAttempts: 2}), WithAttemptTimeout(time.Second))
	if got := configOf(opts).retry; got.AttemptTimeout != 3*time.Second || got.MaxAttempts != 2 {
		t.Fatalf("policy = %+v", got)
	}
	off, _ := envOf(map[string]string{"EBB_ATTEMPT_TIMEOUT": "off"}, WithAttemptTimeout(time.Second))
	if got := configOf(off).retry.AttemptTimeout; got != 0 {
		t.Fatalf("EBB_ATTEMPT_TIMEOUT=off left %v", got)
	}
}

// Every variable in the table is read, and a value it sets is recorded
// under the Go field the table gives it, which is how Validate's errors
// come to name the variable.
func TestFromEnvVariablesTable(t *testing.T) {
	for _, v := range variables {
		var ok bool
		for _, value := range []string{"3", "100", "1s", "0.5", "on", "balanced", "ns"} {
			e := &env{lookup: lookupFrom(map[string]string{v.name: value}), set: map[string]string{}}
			e.retry()
			e.breaker()
			e.limiter()
			e.namespace()
			if len(e.errs) > 0 || len(e.patches) == 0 {
				continue
			}
			if got, want := e.set[v.field], fmt.Sprintf("%s=%q", v.name, value); got != want || len(e.set) != 1 {
				t.Errorf("%s=%s recorded %v, want only %s: %s", v.name, value, e.set, v.field, want)
			}
			ok = true
			break
		}
		if !ok {
			t.Errorf("%s: no value read", v.name)
		}
	}
}

// The variables are listed for people in three places: FromEnv's doc, the
// README's table and the worker demo's usage. Each lists every variable
// FromEnv reads, and none it does not, so that none of the three drifts
// from the code.
func TestFromEnvVariablesDocumented(t *testing.T) {
	mention := regexp.MustCompile(`\b(EBB|CAMUNDA_SDK)_[A-Z][A-Z_]*[A-Z]\b`)
	for _, file := range []string{"env.go", "../README.md", "../examples/worker/main.go"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if file == "env.go" {
			text = text[:strings.Index(text, "func FromEnv")] // the doc
		}
		for _, v := range variables {
			if !strings.Contains(text, v.name) {
				t.Errorf("%s does not list %s", file, v.name)
			}
		}
		for _, name := range mention.FindAllString(text, -1) {
			if !known(name) {
				t.Errorf("%s lists %s, which FromEnv does not read", file, name)
			}
		}
	}
}
