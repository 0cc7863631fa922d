// Package load is the client of the dynamics harness (cmd/loadclient): one
// process driving goroutines in closed loops through one contender (package
// contender) against the slot server, and reporting what it saw as JSON.
//
// Each goroutine sends a logical request — a POST of
// {"processDefinitionId":"order"} to /v2/process-instances with its own
// context of Timeout (10s) — waits for its final answer, reads the body,
// and sends the next at once. A request succeeds when its final answer is a
// 2xx; anything else, an error included, is a failure.
//
// Time is measured from an instant T0 shared with the server and the other
// processes of a run (wall clock, on one machine): goroutines start at
// T0+Start and send no new request after T0+Stop, when the requests still
// in flight are cancelled and left out of every count. Every attempt is
// counted below the contender, on the base transport, in 100ms buckets by
// the instant it was sent; every logical request in buckets by the instant
// its answer came. Latencies, per-goroutine successes and the attempt
// totals of Result.Window cover the requests that ended (attempts that
// started) inside Window. A failed request that sent no attempt at all
// was refused inside the client (an open breaker, a full queue): those
// are also counted apart, as FailedLocal.
//
// Every contender gets the same base, a clone of http.DefaultTransport
// keeping up to 1024 idle connections per host, so that the contenders
// differ in their policies and never in their connection pools.
package load
