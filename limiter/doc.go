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
// cluster is never throttled. The host refuses rather than queues, so the
// limit aims at exactly what it accepts, the known level:
//
//   - The first refusal sets the limit to the other attempts in flight (or
//     Initial). Each refusal of an attempt sent before the last counted one
//     takes one permit off: the host did not take that one either. A burst
//     of refusals thus leaves the limit at what the host took.
//   - A refused probe (more in flight than the known level) takes the limit
//     back to the attempts in flight, which the host does accept: no cut
//     below it, so no slot sits idle.
//   - A refusal within the known level means another client took room, or
//     the host shrank: the limit falls to Decrease times what is still in
//     flight. By default that is the room taken and no more: room given
//     back beyond it goes to whichever probe finds it first, which over
//     real loopback fed one client's chain of probes at the others' cost.
//   - Such refusals may instead not come from the load at all (one hot
//     partition of several). When they are frequent, the limiter measures
//     them at the current concurrency and at half of it: if they do not
//     fall, they change nothing for a while.
//   - While the limit is in use, healthy answers probe one permit above the
//     known level, at a pace of Increase probes a round (a round is as many
//     answers as the limit) for a backlog of 7 attempts waiting per permit,
//     faster with a longer backlog (as its cube, up to 32 times: a client
//     squeezed far below its share wins its permits back within a few
//     dozen rounds), slower with a shorter one (down to half): clients
//     sharing a host converge to equal waits. The high bound holds while
//     the host accepts the client's probes; as it refuses them, the bound
//     falls to 4 times, so a client alone on a full host with a long
//     backlog does not waste an attempt on every fast probe.
//     A probe the host accepts for half a round becomes the known level,
//     and the next probe follows at once, so capacity that returns is used
//     within a few rounds. Not while room is contested, though: for 2s
//     after a client was displaced, a client waiting no longer than the
//     reference backlog takes its next probe at the pace, unless such
//     refusals are frequent, as a hot partition's are. An accepted probe
//     cannot tell idle room from room another client held, and over real
//     loopback such chains took one permit after another from the other
//     clients of a fleet: the widest cause of its tail.
//   - Time adds a permit every RecoveryInterval without backpressure, and
//     after UnlimitedAfter without backpressure or the limit being reached,
//     the limit is out of the way again.
//   - A refusal that would take the limit below Floor holds waiting attempts
//     back for a round instead; an attempt that finds nothing in flight and
//     nobody waiting is never held, so a client alone on a host waits only
//     what its retries say.
//   - Unavailable answers, other server errors, transport errors,
//     cancellations and local refusals say nothing of the host's capacity:
//     an outage leaves the limit as it was.
//
// Job activations ([verdict.RouteOf] /v2/jobs/activation) are long polls:
// the gateway serves them, then parks them without using the cluster until
// jobs come. While the limit is out of the way they take no permit; once it
// holds, they go before the other attempts waiting, hold a permit while they
// are served, and give it back after two rounds, when the gateway has
// parked them. [HostStats].LongPolls counts those holding none. Once the
// limit holds, an activation that asks for an answer at once (a negative
// requestTimeout) is not parked, and waits its turn like any other attempt
// ([verdict.Parks]); while the limit is out of the way it passes as the
// long polls do, since telling it from them means reading the body again
// (about 2µs and 10 allocations), and it is answered at once anyway.
//
// LAW.md, beside this file, records the simulations that chose this law. In
// them (256 goroutines, a server of 32 slots), the limit sits at the
// server's slots: 0.99 of its capacity used, 0.06% of attempts refused, the
// 99th percentile within 4% of the queueing floor.
//
// Processes sharing a host share it evenly on average (Jain's index 0.99
// and above over four processes), but not at every instant: a process's
// share moves one permit at a time as probes displace one another, and
// the pull of the pace back towards equal waits only bounds the spread, to
// about a permit either way at 8 permits a process. The tail of a fleet's
// latency is that spread: 1.4-1.6 times its queueing floor at the 99th
// percentile, where one client alone gets 1.1, and so do four processes
// held at the fair split (8 permits each of 32 slots, 1.09 over
// loopback). LAW.md ("Why the shares spread") has the model, and why a
// steeper pull, which would narrow the spread, breaks fleets whose backlog
// differs from this one's: nothing in the gateway's 503 tells a client
// what share the others hold, and without it no client can hold the fair
// split (one permit over it each wastes 28% of attempts).
//
// # Contract
//
// A [Transport] is safe for concurrent use, never modifies the request it
// is given, and returns next's response or error as they are. Attempts
// that find no free permit wait in a queue of at most MaxWaiters per host,
// first come first served after the long polls. An attempt that gets no
// permit, because the queue is full ([ErrQueueFull]) or its context ended
// while it waited, fails with an error matching [verdict.ErrNotSent] (and
// the context's cause, which is its error unless it was canceled with a
// cause of its own, or [verdict.ErrRefused]); its body is closed and
// nothing is sent. An attempt's own time bound (retry.Policy.AttemptTimeout)
// does not run while it waits: it runs from sending, so a queue longer than
// the bound delays attempts rather than failing them as if the host had. An error from next is never one of these: once an
// attempt is handed on, it may have reached the server.
//
// Drain operations ([verdict.Drains]: job completion, failure and error,
// user-task completion) pass without a permit and teach the limit nothing:
// holding back what removes load would prolong the overload.
//
// [Hooks] report waits and queue refusals; [Transport.Stats] reports each
// host's limit, attempts in flight, waiting and long polls when asked, for
// metrics and status pages. Hooks never run under a lock, and a hook that
// panics leaves nothing held. State is kept for at most MaxHosts hosts;
// beyond that, idle hosts whose limit is out of the way are forgotten, and
// a new host finding none passes unlimited.
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
//	balanced       1         0.02      1s                30s
//	conservative   0.9       0.01      2s                60s
//	aggressive     1         0.04      500ms             10s
//	observe        as balanced, and never holds an attempt back
//	off            a pass-through
//
// Every profile has Floor 1, Initial taken from the attempts in flight,
// MaxWaiters 1024 and MaxHosts 1024. [ParseProfile] reads the names, and
// those of CAMUNDA_SDK_BACKPRESSURE_PROFILE (LEGACY is observe); [Settings]
// override any number.
package limiter
