// Package transport puts ebb's layers together into one http.RoundTripper
// that any http.Client can wear, so that a worker talking to an overloaded
// Camunda 8 cluster (or any API that says "slow down") backs off, retries
// what is safe to retry, and stops sending when the server is down.
//
//	opts, err := transport.FromEnv(              // the code's settings, then the deployment's
//		transport.WithRetry(retry.Policy{MaxAttempts: 4}),
//		transport.WithMetrics(prometheus.DefaultRegisterer),
//	)
//	if err != nil {
//		log.Fatal(err) // names each bad variable and its value
//	}
//	client := transport.NewClient(opts...)        // or &http.Client{Transport: transport.New(base, opts...)}
//
//	ctx, cancel := context.WithTimeout(ctx, 10*time.Second) // every request with a deadline
//	defer cancel()
//	req, _ := http.NewRequestWithContext(ctx, "POST", url, body)
//	resp, err := client.Do(req)
//
// # The chain
//
// A request goes through the layers outermost first; each can also be used
// on its own from its package:
//
//	breaker (per host)  ->  retry (the attempts)  ->  limiter (per host)  ->  base
//
// The breaker wraps the retries, as Camunda's guidance asks ("backoff …
// wrapped in a circuit breaker"): it judges a logical request once its
// retries are spent, so a single 503 does not count against the host, but a
// host that keeps failing is given a rest instead of a stream of retries.
// The limiter sits inside retry: it holds one permit per attempt and none
// while a request sleeps in backoff, so waiting requests do not hold back
// the ones that could go. Metrics (package metrics) have no layer: they are
// fed by the layers' hooks and read the layers' state at scrape time. A
// layer that is turned off is left out of the chain, not run as a
// pass-through.
//
// # Contract
//
// The chain keeps net/http's RoundTripper contract in every layer: it is safe
// for concurrent use; it never modifies the caller's *http.Request (later
// attempts are clones); it returns a response or an error, never both; once
// a response is obtained, even a last 503, it is returned with a nil error;
// each response it discards is drained (a few KiB, for a bounded time) and
// closed so its connection is reused; a request without a URL is an error,
// as in net/http; and it never calls CloseIdleConnections on a transport it
// does not own. A hook (of metrics, of a logger, of the caller) that panics
// propagates to the caller, and every layer releases what it holds first.
//
// # Configuration
//
// With no options the chain uses the defaults of each layer. A layer's
// option (WithRetry, WithBreaker, WithLimiter) sets that layer's settings as
// a whole, the last one winning; a nil option is skipped. [FromEnv] returns
// the options it is given followed by the settings the process environment
// sets, which [New] applies after every other option, field by field: the
// variables a deployment sets win over the code, whatever the order of the
// options, and the variables it does not set change nothing. [New] panics on
// invalid settings, as they are a programming error; FromEnv reports them as
// errors naming the variable.
//
// [WithAttemptTimeout] bounds each attempt; it is off by default because it
// costs a context per attempt, and a client whose requests carry no
// deadline should set it. [WithLogger] logs retries at debug level and
// requests that give up at warn level, never with URLs, headers or bodies.
//
// # Seeing the chain
//
// [Transport.Snapshot] returns the settings in force and, per host, the
// breaker's state, the limiter's limit, attempts in flight and waiting, and
// the retry budget; [Of] finds the chain on an http.Client.
//
// [Chain], [Middleware] and [RoundTripperFunc] let a program put its own
// layers around or inside the chain.
//
// # Where the chain departs from its design
//
// A few decisions differ from ebb's original design, each for a reason
// written in the package concerned:
//
//   - Backpressure from a broker that is out of disk is not retried (package
//     retry): it does not clear within a retry's delay, and retrying only
//     adds load; the breaker counts it as a failure.
//   - When the caller's context ends during a backoff wait, the request ends
//     with an error wrapping the context's error rather than with the last
//     response (package retry): the caller asked to stop, and the response
//     was drained so its connection could be reused during the wait.
//   - When the deadline passes while an attempt is on the server, the
//     caller gets that attempt's outcome (the deadline error), never the
//     previous refusal: a refusal says "nothing happened", which may be
//     false (package retry).
//   - Local refusals (an open breaker, a full limiter queue) have a verdict
//     of their own, Refused (package verdict), so that no layer counts them
//     for or against a host, and metrics show them as the outcome "refused".
//   - Drain operations (job completion, failure and error) pass an open
//     breaker as well as the limiter (package breaker): a completion refused
//     locally is a job the cluster times out and hands out again.
//   - There is no metrics layer: the metrics are fed by the hooks of the
//     layers, which work out each request's route once, and gauges are read
//     at scrape time (package metrics).
package transport
