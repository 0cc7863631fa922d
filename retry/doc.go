// Package retry runs the attempts of one logical HTTP request: it sends the
// request, reads the verdict of the answer (package verdict), and sends it
// again after a delay when the verdict calls for it and the policy allows.
//
// # What is retried
//
// Backpressure (429; 500 or 503 naming RESOURCE_EXHAUSTED) is retried for any
// method: the server refused the request before doing any work, so a POST
// that creates a process instance cannot be applied twice. Backpressure from
// a broker that is out of disk is not: it does not clear within a retry's
// delay. Unavailable answers (other 503s, 502, 504) and transport errors are
// retried only when the request is safe to repeat ([verdict.SafeToRepeat]:
// an idempotent method, an Idempotency-Key header, or a route on Camunda's
// safe list), or, for transport errors, when the request provably never left
// (a refused dial). Client errors, other server errors and cancellations are
// never retried.
//
// # Delays
//
// Delays come from github.com/cenkalti/backoff/v4's ExponentialBackOff, one
// per logical request (it is not safe to share) and only created once a
// retry is due, so the happy path pays nothing for it. With the default
// [Policy] the mean delays are 100ms, 200ms, 400ms, 800ms, each spread over
// ±50%, capped at 5s. A Retry-After header (seconds or HTTP-date) is a floor
// for the delay; one longer than Policy.MaxRetryAfter is not waited for: the
// response goes back to the caller at once. The layer never waits past the
// context's deadline, nor past the time bound of a breaker's probe (package
// breaker, above this layer, bounds a probe as a whole): if the next attempt
// could not start before it, the last answer is returned now. The same holds when the deadline passes while the
// next attempt provably never left the process (it waited for a permit of
// the limiter below, whose error matches verdict.ErrNotSent): the previous
// answer, kept in memory when its body is small (up to 4 KiB, as
// backpressure answers are), goes back with a nil error. Once an attempt
// may have reached the server, its own outcome is what the caller gets —
// the context's error when the deadline passes while it is out — and never
// an earlier refusal, which would tell the caller "nothing happened, safe to
// send again" about a request the server may have carried out. The context
// ending otherwise during a wait (canceled by the caller) ends the request
// at once with an [*Error] wrapping the context's error.
//
// # Attempt timeout
//
// Policy.AttemptTimeout, off by default, bounds each attempt; a job
// activation's long poll gets its requestTimeout on top, so the bound never
// cuts it short.
//
// # Bodies and the request
//
// The caller's request is never modified. The first attempt sends it as it
// is; each later attempt sends a clone whose body comes from req.GetBody,
// which http.NewRequest sets for in-memory bodies. A request with a body and
// no GetBody is sent once. Bodies are never read into memory to make them
// replayable. A response that is not handed back is read (up to 4 KiB, for
// at most 250ms) and closed so its connection is reused.
//
// # The answer
//
// Once a response is obtained it is returned with a nil error — the last
// 503 too, when the attempts run out, so the caller sees what the server
// said. Errors (a transport error on the last attempt, the context ending)
// are an [*Error] naming the host and the attempts made and wrapping the
// cause, so errors.Is and errors.As see through it (but for the not-sent
// sentinels once an earlier attempt may have reached the server; see
// [Error.Reached]), and its Timeout method answers as the cause's does, so
// that http.Client's *url.Error reports a deadline as a timeout, as it does
// with a bare http.Transport.
//
// # Retry budget
//
// Each host has a retry budget, a token bucket in the spirit of gRPC's retry
// throttling: each logical request adds Policy.BudgetRatio (0.2) tokens, up
// to Policy.BudgetReserve (10); each retry of an unavailable, server or
// transport error takes one, and when none is left the current answer goes
// back to the caller. A failing host thus sees at most 20% more requests
// than its callers send, not five times as many. Backpressure retries do not
// draw on the budget: they were refused before any work was done, the
// backoff and the limiter layer already pace them, and a cluster that pushes
// back on a third of all requests should still get every one through, as
// Camunda's guidance asks.
//
// # Per request
//
// [WithMaxAttempts] and [WithoutRetry] change the attempts for the requests
// made under a context.
//
// # Hooks
//
// [Hooks] see every attempt, retry and outcome as an [Event], which carries
// the facts worked out once per logical request — the host's label, the
// route, the verdict — so that metrics and logs never work them out again.
// A hook that panics propagates to the caller and leaves nothing behind:
// the response or request body the layer holds is closed first.
//
// # Place in the chain
//
// In the chain built by package transport, retry sits inside the breaker,
// which judges logical requests after their retries, and outside the
// limiter, which holds one permit per attempt and none during the wait.
//
// A Transport is safe for concurrent use. Time comes from the time package
// (time.Now, time.NewTimer), so tests run it under testing/synctest.
package retry
