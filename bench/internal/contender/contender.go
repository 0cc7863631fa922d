package contender

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/transport"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"
)

// A Contender is one way of making a client resilient, built over a base
// RoundTripper.
type Contender struct {
	// Key names the contender on command lines and in JSON.
	Key string
	// Name is how tables and charts show it.
	Name string
	// New builds the contender's RoundTripper over base.
	New func(base http.RoundTripper) http.RoundTripper
	// Waits are the mean delays its retry policy promises before the
	// first, second, third... retry of a request refused with 503
	// RESOURCE_EXHAUSTED and no Retry-After; nil for a client that does
	// not retry.
	Waits []time.Duration
}

// Promise is the sum of the mean waits the retry policy promises before
// the n-th retry, that is what a request refused n times then accepted
// should wait in all; ok is false when the policy makes fewer than n
// retries.
func (c Contender) Promise(n int) (d time.Duration, ok bool) {
	if n > len(c.Waits) {
		return 0, false
	}
	for _, w := range c.Waits[:n] {
		d += w
	}
	return d, true
}

// Keys of the contenders, as Lookup knows them.
const (
	KeyNone            = "none"
	KeyEbb             = "ebb"
	KeyEbbNoLimiter    = "ebb-nolimit"
	KeyRetryableHTTP   = "retryablehttp"
	KeyFailsafe        = "failsafe"
	KeyFailsafeAttempt = "failsafe-attempt"
)

// All lists every contender, in the order of the tables.
var All = []Contender{
	{KeyNone, "no retry", NoRetry, nil},
	{KeyRetryableHTTP, "go-retryablehttp 0.7.8", RetryableHTTP, seconds(1, 2, 4, 8)},
	{KeyFailsafe, "failsafe-go 0.9.8", FailsafePerRequest, seconds(1, 2, 4, 8)},
	{KeyFailsafeAttempt, "failsafe-go 0.9.8, breaker per attempt", FailsafePerAttempt, seconds(1, 2, 4, 8)},
	{KeyEbb, "ebb", EbbDefault, millis(100, 200, 400, 800)},
	{KeyEbbNoLimiter, "ebb, limiter off", EbbNoLimiter, millis(100, 200, 400, 800)},
}

// Lookup returns the contender with the given key.
func Lookup(key string) (Contender, error) {
	for _, c := range All {
		if c.Key == key {
			return c, nil
		}
	}
	return Contender{}, fmt.Errorf("contender: unknown client %q", key)
}

func seconds(s ...int) []time.Duration {
	d := make([]time.Duration, len(s))
	for i, v := range s {
		d[i] = time.Duration(v) * time.Second
	}
	return d
}

func millis(ms ...int) []time.Duration {
	d := make([]time.Duration, len(ms))
	for i, v := range ms {
		d[i] = time.Duration(v) * time.Millisecond
	}
	return d
}

// NoRetry is the server as a client without any resilience sees it: the
// base itself.
func NoRetry(base http.RoundTripper) http.RoundTripper { return base }

// RetryableHTTP is go-retryablehttp's default client, the one its README
// turns into an http.Client with StandardClient: retryablehttp.NewClient(),
// whose defaults are 4 retries (5 attempts), DefaultRetryPolicy (connection
// errors, 429 and every 5xx but 501) and DefaultBackoff (1s, 2s, 4s, 8s,
// capped at 30s, without jitter; a Retry-After on a 429 or 503 replaces
// it). Only the logger is silenced and the inner http.Client given the
// base; the RoundTripper is the one StandardClient wears. It reads every
// request body into memory so that it can send it again.
func RetryableHTTP(base http.RoundTripper) http.RoundTripper {
	c := retryablehttp.NewClient()
	c.Logger = nil
	c.HTTPClient.Transport = base
	return &retryablehttp.RoundTripper{Client: c}
}

// FailsafeRetry is the retry policy of failsafe-go's HTTP documentation:
// failsafehttp.NewRetryPolicyBuilder (connection errors, 429 and every 5xx
// but 501; Retry-After honoured) with WithBackoff(1s, 30s) and the jitter
// factor its retry documentation shows (0.1), and 4 retries instead of the
// documentation's 3 to make the 5 attempts of the others.
func FailsafeRetry() failsafe.Policy[*http.Response] {
	return failsafehttp.NewRetryPolicyBuilder().
		WithBackoff(time.Second, 30*time.Second).
		WithJitterFactor(0.1).
		WithMaxRetries(4).
		Build()
}

// FailsafeBreaker is the circuit breaker of failsafe-go's documentation:
// the thresholds of its usage example (opens after 5 failures in a row,
// stays open a minute, closes after 2 successes), counting as failures the
// answers its HTTP page shows a breaker handling (429, with Camunda's 503
// beside it, and Retry-After as the open delay), and errors, which include
// a retry policy that gave up.
func FailsafeBreaker() failsafe.Policy[*http.Response] {
	return circuitbreaker.NewBuilder[*http.Response]().
		HandleIf(func(resp *http.Response, err error) bool {
			return err != nil || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
		}).
		WithDelayFunc(failsafehttp.DelayFunc).
		WithFailureThreshold(5).
		WithDelay(time.Minute).
		WithSuccessThreshold(2).
		Build()
}

// FailsafePerAttempt composes the two policies as failsafe-go's
// documentation does (failsafehttp.NewRoundTripper(base, retryPolicy,
// circuitBreaker), that is RetryPolicy(CircuitBreaker(fn))): the breaker
// judges every attempt.
func FailsafePerAttempt(base http.RoundTripper) http.RoundTripper {
	return failsafehttp.NewRoundTripper(base, FailsafeRetry(), FailsafeBreaker())
}

// FailsafePerRequest composes them the other way round, as Camunda's
// guidance asks ("backoff … wrapped in a circuit breaker") and as ebb does:
// the breaker judges each request once its retries are spent.
func FailsafePerRequest(base http.RoundTripper) http.RoundTripper {
	return failsafehttp.NewRoundTripper(base, FailsafeBreaker(), FailsafeRetry())
}

// EbbDefault is ebb's chain with no options, what transport.NewClient()
// wears: 5 attempts, backoff from 100ms (±50%) doubling to 5s, a breaker
// per host around the retries, the balanced adaptive limiter per host
// inside them.
func EbbDefault(base http.RoundTripper) http.RoundTripper { return transport.New(base) }

// EbbNoLimiter is the same chain without its limiter, to show what the
// limiter does and what retries with backoff alone do.
func EbbNoLimiter(base http.RoundTripper) http.RoundTripper {
	return transport.New(base, transport.WithLimiter(limiter.Settings{Profile: limiter.Off}))
}
