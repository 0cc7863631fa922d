package bench

import (
	"net/http"

	peers "github.com/ebb-go/ebb/bench/internal/contender"
)

// A contender is one way of making a client resilient, built over a base
// RoundTripper. The configurations live in package contender (its doc has
// the exact settings), which the dynamics harness's load client shares, so
// that the simulated and the real-loopback comparisons measure the same
// clients. Each has five attempts per request where the library lets us
// choose.
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

var (
	noRetry            = peers.NoRetry
	retryableHTTP      = peers.RetryableHTTP
	failsafeBreaker    = peers.FailsafeBreaker
	failsafePerAttempt = peers.FailsafePerAttempt
	failsafePerRequest = peers.FailsafePerRequest
	ebbDefault         = peers.EbbDefault
	ebbNoLimiter       = peers.EbbNoLimiter
)
