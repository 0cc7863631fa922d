// Package limiter bounds the attempts in flight to each host, and adapts
// the bound to what the host says, so that a crowd of goroutines cannot push
// an overloaded server further than it can take.
//
// Retrying with backoff keeps one request from hammering a server; it does
// not keep two hundred goroutines from doing so together. This layer is the
// other half: a permit per attempt, a limit on the permits of each host, and
// a limit that learns from every answer.
//
// # Place in the chain
//
//	metrics -> breaker -> retry -> limiter -> metrics (per attempt) -> base
//
// Inside retry, the limiter sees attempts, not logical requests. An attempt
// holds a permit while it is in flight: taken just before next is called,
// given back as soon as next returns. A request sleeping in backoff holds
// none; that wait belongs to the retry layer, outside this one. The permit
// goes back before the caller reads the body: the server has answered and
// freed its slot, and a caller slow to read a large body must not hold back
// the attempts queued behind it. [New] wraps any RoundTripper; package
// transport puts it in the chain.
//
// # The limit
//
// The limit counts attempts in flight per host (scheme, host and port, as
// [verdict.HostOf] gives them). It is out of the way until the host first
// pushes back ([verdict.Backpressure]: 429, or RESOURCE_EXHAUSTED), so a
// healthy cluster is never throttled. From then on:
//
//   - The first backpressure sets the limit to the host's other attempts
//     still in flight, which is what the server was just seen to accept
//     (or to Settings.Initial, when set).
//   - Backpressure counts once per round. An attempt that started before
//     the last decrease was sent into the overload that decrease answered,
//     so its refusal is the tail of the same burst, not a new signal: fifty
//     refusals from one burst make one decrease.
//   - A counted refusal while as many attempts were in flight as the host
//     last accepted, or more, is a failed probe. The limit drops at once to
//     Decrease times itself or to the attempts still in flight, whichever
//     is lower. The host does accept those, so the cut does not go deeper
//     than needed.
//   - A counted refusal with fewer attempts in flight than the host last
//     accepted means another client took some of its room (or the host
//     shrank). The limit drops to Decrease times the attempts still in
//     flight. The client holding the most is refused most often and gives
//     back the most, which is what brings several processes sharing a host
//     to even shares.
//   - A success or a client error (the host is up and answering) raises a
//     limit in use, one that was reached or had attempts waiting. The rate
//     is Increase permits per round, up to a permit above the level the
//     host last accepted, then exponentially faster the longer it meets no
//     backpressure. A server that grew is found within a second or two,
//     while a steady one costs one refused probe every 1/Increase rounds.
//     A round is as many answers as the limit, about one response time.
//   - Time raises the limit too: one permit per RecoveryInterval without
//     backpressure, whatever the traffic. So the limit can never stall at
//     its floor when few answers come back, and a timer lets waiting
//     attempts in as it grows, without waiting for an answer.
//   - After UnlimitedAfter without backpressure and without the limit being
//     reached, the limit is out of the way again.
//   - The limit never goes below Floor. When a refusal would take it lower
//     (the host accepts nothing, or less than the floor), attempts beyond
//     those still in flight wait one probe interval instead: 1/Increase
//     rounds, at most RecoveryInterval. A client the server refuses thus
//     tries again as often as one holding permits probes for one more, so
//     neither crowds the other out, and a server in an outage sees a
//     trickle of attempts instead of a storm.
//   - Unavailable answers, other server errors, transport errors,
//     cancellations and local refusals say nothing about how much the host
//     can take: they change nothing.
//
// # Why this law
//
// It was chosen by measurement, with the simulation in this package's tests
// (package internal/simtest). The server has 8 slots and takes 10ms per
// request (spread uniformly over 5–15ms), with 0.1ms each way on the
// network; whatever arrives beyond its slots it refuses at once with
// Camunda's 503 RESOURCE_EXHAUSTED. The clients run closed loops through
// package retry with its defaults (5 attempts, 100ms doubling to 5s, ±50%)
// and then this layer. Each run is one simulated minute; goodput is a share
// of the server's capacity (800 requests a second).
//
//	                 one process, 64 goroutines   4 processes × 16, 8 slots   doubled  outage
//	                 goodput  refused  failed     goodput  Jain       refused  90% in   refused/s
//	no limiter        98.0%   19.5%    3.3%        98.0%   0.99       19.4%     1s       387
//	Camunda-like      81.5%    0.2%    0           95–96%  0.99        0.6%     9s         5
//	AIMD ×0.5         81.4%    3.3%    0           97.0%   1.00       25.2%    never      28
//	AIMD ×0.9         98.0%   11.5%    0           98.0%   1.00       20.3%     1s       113
//	fixed limit 8     98.0%    0.1%    0
//	fixed limit 9     98.0%   19.4%    3.2%
//	balanced          97.9%    0.7%    0           97.3%   0.97–0.99   2.0%     2s        11
//
// Camunda-like is this package configured as Camunda's SDKs describe
// theirs: a first limit of 16, ×0.7 on every signal, and a permit back per
// second of quiet. The AIMD rows gain a permit per round and cut once per
// round. "Doubled" is the time the clients take to reach 90% of the new
// capacity after the server's slots go from 8 to 16. "Outage" counts the
// attempts refused per second while the server accepts nothing.
//
// The figures say three things. First, a limit just under the server's
// slots wastes them: the Camunda-like law settles at 6 of 8. A limit just
// over them is as bad as none: a limit of 9 keeps one attempt bouncing off
// the full server, sending one waiter after another into backoff. So the
// limit has to settle at what the server takes and probe above it rarely.
// Capping a decrease at the attempts in flight does that without a deep
// cut (×0.5 gives up 16% of goodput), and the slow probe keeps refusals
// under 1% where a permit a round costs 11.5%.
//
// Second, several processes converge to even shares only if the one holding
// most gives back most. Without the shedding when room is taken, Jain's
// index over three runs is 0.93–0.97, and 0.93 for three processes joining
// one that had the server to itself for ten seconds (0.97 with it), for
// 0.7% of goodput.
//
// Third, the floor pause turns an outage's 207 refused attempts a second
// into 11.
//
// Gradient and Vegas-like laws read queueing from rising latency. This
// server, like Camunda's gateway, refuses instead of queueing, so latency
// does not rise before the refusals come; those laws were not measured.
//
// The network matters. With 1ms each way (a fifth of the service time), a
// permit spends a sixth of its life travelling, and a limit at the server's
// slots leaves them idle that long. Balanced then gets 83.3% of capacity
// with 0.7% refused, where no limiter gets 87.9% with 30% refused, and no
// fixed limit does better without a storm of refusals (9: 89.2%, 23%
// refused). Against a server that refuses rather than queues, attempts in
// flight cannot keep every slot full without some of them colliding.
//
// # Profiles and defaults
//
//	profile        Decrease  Increase  RecoveryInterval  UnlimitedAfter
//	balanced       0.9       0.05      1s                30s
//	conservative   0.8       0.02      2s                60s
//	aggressive     0.95      0.1       500ms             10s
//	observe        as balanced, and never holds an attempt back
//	off            a pass-through
//
// Every profile has Floor 1, an Initial limit taken from the attempts in
// flight, MaxWaiters 1024 and MaxHosts 1024. In the simulation above,
// conservative gets 92.3% of capacity with 0.26% refused (0.9% for four
// processes) and reaches a doubled server in 3s; aggressive gets 98.0% with
// 1.3% refused (3.9%) and takes 2s. [ParseProfile] reads the names, and
// those of CAMUNDA_SDK_BACKPRESSURE_PROFILE (LEGACY is observe). [Settings]
// override any number.
//
// # Drain operations
//
// Job completion, failure and error, and user-task completion
// ([verdict.Route.Drain]) pass without a permit and teach the limit
// nothing. They remove load from the cluster, and holding them back would
// prolong the overload they help end.
//
// # Waiting
//
// An attempt that finds its host's permits taken waits in a queue, first
// come first served. It leaves the queue when a permit comes back, when the
// limit grows with time, or when its context ends; in the last case
// RoundTrip returns the context's error at once and the place is freed. At
// most MaxWaiters attempts wait per host. Beyond that an attempt fails at
// once with an error that names the host and matches both [ErrQueueFull]
// and [verdict.ErrRefused], so the other layers neither retry it nor count
// it against the host. Either way nothing was sent, and the request's body
// is closed, as the RoundTripper contract asks.
//
// # Hooks and hosts
//
// [Hooks] report the limit ([Unlimited], 0, while out of the way), the
// attempts in flight and waiting, each wait, and each refusal, with the
// host's label (host:port), for package metrics. The limit's changes with
// time are computed when something happens: a limit that has gone out of
// the way after a quiet period is reported so at the next attempt.
//
// State is kept for at most MaxHosts hosts. Beyond that, idle hosts are
// forgotten, those whose limit is out of the way first; if every host is
// busy, a new one passes unlimited.
//
// # Concurrency and cost
//
// A [Transport] is safe for concurrent use, and never modifies the request
// it is given. It returns next's response or error as they are.
//
// While a host's limit is out of the way, an attempt costs one
// compare-and-swap to take its permit and one to give it back: no lock, no
// allocation, no clock. That is about 30ns over the bare base. A held limit
// costs the host's mutex and a clock read at each end, about 175ns, and an
// attempt that waits allocates its place in the queue. Hosts are looked up
// without allocating.
//
// Time comes from the time package (time.Now through an unexported field,
// time.AfterFunc), so the tests run under testing/synctest. No goroutine
// runs in the background. The limit's growth with time is computed from the
// elapsed time when the next attempt comes or goes, and a timer, armed only
// while attempts wait, lets them in when the limit grows.
package limiter
