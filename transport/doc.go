// Package transport puts ebb's layers together into one http.RoundTripper
// that any http.Client can wear, so that a worker talking to an overloaded
// Camunda 8 cluster (or any API that says "slow down") backs off, retries
// what is safe to retry, and stops sending when the server is down.
//
//	client := transport.NewClient()                          // defaults
//	client = &http.Client{Transport: transport.New(base)}    // your own base
//
//	opts, err := transport.FromEnv()                         // a worker's deployment
//	if err != nil { ... }
//	client = transport.NewClient(opts...)
//
// # The chain
//
// A request goes through the layers outermost first; each can also be used
// on its own from its package:
//
//	metrics (per logical request)     package metrics
//	  -> breaker (per host)           package breaker
//	    -> retry (attempts, backoff)  package retry
//	      -> limiter (per host)       package limiter
//	        -> metrics (per attempt)  package metrics
//	          -> base (http.Transport)
//
// The breaker wraps the retries, as Camunda's guidance asks ("backoff …
// wrapped in a circuit breaker"): it judges a logical request once its
// retries are spent, so a single 503 does not count against the host, but a
// host that keeps failing is given a rest instead of a stream of retries. The
// limiter sits inside retry: it holds one permit per attempt and none while a
// request sleeps in backoff, so waiting requests do not hold back the ones
// that could go. Every layer reads the same verdict of each attempt (package
// verdict), computed once.
//
// # Contract
//
// The chain keeps net/http's RoundTripper contract in every layer: it is safe
// for concurrent use; it never modifies the caller's *http.Request (later
// attempts are clones); it returns a response or an error, never both; once
// a response is obtained, even a last 503, it is returned with a nil error;
// each response it discards is drained (a few KiB) and closed so its
// connection is reused; and it never calls CloseIdleConnections on a
// transport it does not own.
//
// # Configuration
//
// With no options the chain uses the defaults of each layer; options replace
// a layer's settings as a whole ([WithRetry]). [New] panics on invalid
// settings, as they are a programming error; [FromEnv] reads settings from
// the environment and reports a bad value as an error naming the variable.
// [WithLogger] logs retries at debug level and requests that give up at warn
// level, never with URLs, headers or bodies.
//
// [Chain], [Middleware] and [RoundTripperFunc] let a program put its own
// layers around or inside the chain.
//
// # Where the chain departs from its design
//
// A few decisions differ from the project's DESIGN.md, each for a reason
// written in the package concerned:
//
//   - Backpressure from a broker that is out of disk is not retried (package
//     retry): it does not clear within a retry's delay, and retrying only
//     adds load; the breaker counts it as a failure.
//   - When the caller's context ends during a backoff wait, the request ends
//     with an error wrapping the context's error rather than with the last
//     response (package retry): the caller asked to stop, and the response
//     was drained so its connection could be reused during the wait.
//   - Local refusals (an open breaker, a full limiter queue) have a verdict
//     of their own, Refused (package verdict), so that no layer counts them
//     for or against a host, and metrics show them as the outcome "refused".
//   - The breaker runs gobreaker's CircuitBreaker.Execute rather than its
//     two-step breaker, whose Allow allocates a closure per request
//     (package breaker, with the measurements).
//   - Drain operations (job completion, failure, error) pass an open breaker
//     as well as the limiter (package breaker): a completion refused
//     locally is a job the cluster times out and hands out again.
package transport
