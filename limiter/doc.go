// Package limiter bounds the attempts in flight to each host, and adapts
// the bound to what the host says, so that a crowd of goroutines cannot push
// an overloaded server further than it can take.
//
// Retrying with backoff keeps one request from hammering a server; it does
// not keep two hundred goroutines from doing so together. This layer is the
// other half: a permit per attempt, a limit on the permits of each host, and
// a limit that learns from every answer. It sits inside the retry layer, so
// it sees attempts, not logical requests; [New] wraps any RoundTripper.
//
// # Model
//
// An attempt holds a permit from just before next is called until next
// returns: before the caller reads the body, since the server has answered
// and freed its slot. A request sleeping in backoff holds none. The limit
// counts permits per host (scheme, host and port, as [verdict.HostOf]
// gives them) and is out of the way until the host first pushes back
// ([verdict.Backpressure]: 429, or RESOURCE_EXHAUSTED), so a healthy
// cluster is never throttled. From then on:
//
//   - The first backpressure sets the limit to the host's other attempts
//     in flight, what the server was just seen to accept (or Initial).
//   - Backpressure counts once per round: refusals to attempts sent before
//     the last decrease are the tail of the burst it answered.
//   - A counted refusal cuts the limit to Decrease times itself, or to the
//     attempts still in flight if fewer; with fewer in flight than the host
//     last accepted (another client took room), to Decrease times those.
//   - Successes and client errors raise a limit in use by Increase permits
//     a round up to a permit above the level last accepted, then faster
//     the longer no refusal comes. Time alone adds a permit every
//     RecoveryInterval without backpressure.
//   - A refusal that would take the limit below Floor holds new attempts
//     back for a probe interval (1/Increase rounds, at most
//     RecoveryInterval) instead.
//   - After UnlimitedAfter without backpressure and without the limit being
//     reached, the limit is out of the way again.
//   - Other verdicts (unavailable, server and transport errors,
//     cancellations, local refusals) say nothing of the host's capacity and
//     change nothing.
//
// LAW.md, beside this file, records the simulations that chose this law.
//
// # Contract
//
// A [Transport] is safe for concurrent use, never modifies the request it
// is given, and returns next's response or error as they are. Attempts
// that find no free permit wait in a first-come-first-served queue of at
// most MaxWaiters per host. An attempt that gets no permit, because the
// queue is full ([ErrQueueFull]) or its context ended while it waited,
// fails with an error matching [verdict.ErrNotSent] (and the context's
// error, or [verdict.ErrRefused]); its body is closed and nothing is sent.
// An error from next is never one of these: once an attempt is handed on,
// it may have reached the server.
//
// Drain operations ([verdict.Drains]: job completion, failure and error,
// user-task completion) pass without a permit and teach the limit nothing:
// holding back what removes load would prolong the overload.
//
// [Hooks] report waits and queue refusals; [Transport.Stats] reports each
// host's limit, attempts in flight and waiting when asked, for metrics and
// status pages. Hooks never run under a lock, and a hook that panics
// leaves nothing held. State is kept for at most MaxHosts hosts; beyond
// that, idle hosts whose limit is out of the way are forgotten, and a new
// host finding none passes unlimited.
//
// While a host's limit is out of the way, an attempt costs two
// compare-and-swaps: no lock, no allocation, no clock. No goroutine runs in
// the background: the limit's growth with time is computed when attempts
// come and go, and a timer armed only while attempts wait lets them in as
// it grows.
//
// # Defaults
//
//	profile        Decrease  Increase  RecoveryInterval  UnlimitedAfter
//	balanced       0.9       0.05      1s                30s
//	conservative   0.8       0.02      2s                60s
//	aggressive     0.95      0.1       500ms             10s
//	observe        as balanced, and never holds an attempt back
//	off            a pass-through
//
// Every profile has Floor 1, Initial taken from the attempts in flight,
// MaxWaiters 1024 and MaxHosts 1024. [ParseProfile] reads the names, and
// those of CAMUNDA_SDK_BACKPRESSURE_PROFILE (LEGACY is observe); [Settings]
// override any number.
package limiter
