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
package transport
