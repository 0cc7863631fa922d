package bench

import (
	"net/http"
	"time"

	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/transport"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"
)

// A contender is one way of making a client resilient, built over a base
// RoundTripper. Each is configured as its library's documentation shows,
// with five attempts per request where the library lets us choose, so that
// the libraries differ in what they do with the attempts, not in how many
// they make.
type contender struct {
	name string
	new  func(base http.RoundTripper) http.RoundTripper
}

// The contenders of the overload comparison, in the order of its tables.
var contenders = []contender{
	{"no retry", noRetry},
	{"go-retryablehttp", retryableHTTP},
	{"failsafe-go, breaker per attempt", failsafePerAttempt},
	{"failsafe-go, breaker per request", failsafePerRequest},
	{"ebb", ebbDefault},
	{"ebb, limiter off", ebbNoLimiter},
}

// noRetry is the server as a client without any resilience sees it.
func noRetry(base http.RoundTripper) http.RoundTripper { return base }

// retryableHTTP is go-retryablehttp's default client, the one its README
// turns into an http.Client with StandardClient: retryablehttp.NewClient(),
// whose defaults are 4 retries (5 attempts), DefaultRetryPolicy (connection
// errors, 429 and every 5xx but 501) and DefaultBackoff (1s, 2s, 4s, 8s,
// capped at 30s, without jitter; a Retry-After on a 429 or 503 replaces
// it). Only the logger is silenced and the inner http.Client given the
// base; the RoundTripper is the one StandardClient wears. It reads every
// request body into memory so that it can send it again.
func retryableHTTP(base http.RoundTripper) http.RoundTripper {
	c := retryablehttp.NewClient()
	c.Logger = nil
	c.HTTPClient.Transport = base
	return &retryablehttp.RoundTripper{Client: c}
}

// failsafeRetry is the retry policy of failsafe-go's HTTP documentation:
// failsafehttp.NewRetryPolicyBuilder (connection errors, 429 and every 5xx
// but 501; Retry-After honoured) with WithBackoff(1s, 30s) and the jitter
// factor its retry documentation shows (0.1), and 4 retries instead of the
// documentation's 3 to make the 5 attempts of the others.
func failsafeRetry() failsafe.Policy[*http.Response] {
	return failsafehttp.NewRetryPolicyBuilder().
		WithBackoff(time.Second, 30*time.Second).
		WithJitterFactor(0.1).
		WithMaxRetries(4).
		Build()
}

// failsafeBreaker is the circuit breaker of failsafe-go's documentation: the
// thresholds of its usage example (opens after 5 failures in a row, stays
// open a minute, closes after 2 successes), counting as failures the
// answers its HTTP page shows a breaker handling (429, with Camunda's 503
// beside it, and Retry-After as the open delay), and errors, which include
// a retry policy that gave up.
func failsafeBreaker() failsafe.Policy[*http.Response] {
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

// failsafePerAttempt composes the two policies as failsafe-go's
// documentation does (failsafehttp.NewRoundTripper(base, retryPolicy,
// circuitBreaker), that is RetryPolicy(CircuitBreaker(fn))): the breaker
// judges every attempt.
func failsafePerAttempt(base http.RoundTripper) http.RoundTripper {
	return failsafehttp.NewRoundTripper(base, failsafeRetry(), failsafeBreaker())
}

// failsafePerRequest composes them the other way round, as Camunda's
// guidance asks ("backoff … wrapped in a circuit breaker") and as ebb does:
// the breaker judges each request once its retries are spent.
func failsafePerRequest(base http.RoundTripper) http.RoundTripper {
	return failsafehttp.NewRoundTripper(base, failsafeBreaker(), failsafeRetry())
}

// ebbDefault is ebb's chain with no options: 5 attempts, backoff from 100ms
// (±50%) to 5s, a breaker per host around the retries, the balanced adaptive
// limiter per host inside them.
func ebbDefault(base http.RoundTripper) http.RoundTripper { return transport.New(base) }

// ebbNoLimiter is the same chain without its limiter, to show what the
// limiter does and what retries with backoff alone do.
func ebbNoLimiter(base http.RoundTripper) http.RoundTripper {
	return transport.New(base, transport.WithLimiter(limiter.Settings{Profile: limiter.Off}))
}
