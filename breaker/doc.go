// Package breaker is ebb's circuit breaker layer: an http.RoundTripper that
// stops sending requests to a host that keeps failing, for a while.
//
// # Model
//
// A circuit breaker watches the outcomes of the requests to a host. While it
// is closed, every request goes through and is counted. When too many fail,
// it trips open: for the open period every request fails at once, nothing is
// sent, so a host in trouble is not buried under requests that would fail
// anyway and callers learn it at once rather than after a timeout. When the
// period is over the breaker is half-open: it lets a probe through; the
// probe's success closes the breaker, its failure opens it for another
// period.
//
// There is one breaker per host (scheme://host:port, [verdict.HostOf]),
// created on the host's first request. Spellings of one host, such as
// http://Example.com and http://example.com:80, share a breaker.
//
// The breaker judges logical requests, not attempts: it sits outside the
// retry layer, as Camunda's guidance asks for retries with exponential
// backoff and jitter "wrapped in a circuit breaker". A request that succeeds
// on its third attempt is a success; backpressure counts against the host
// only once the retries are spent. The outcome is the verdict (package
// verdict) of the answer the layer below returns:
//
//	failure    backpressure, unavailable, server error, transport error
//	           (verdict.Kind.Failure), including a broker out of disk
//	success    1xx–4xx other than 429: a client error means the host is up
//	excluded   canceled (the caller's context ended) and refused (a layer
//	           below turned the request down locally, such as a full
//	           limiter queue): neither says anything about the host; nor
//	           does a panic of the layer below, which reaches the caller
//
// # Trip rules
//
// The outcomes of a closed breaker are counted in a rolling window of
// Settings.Window that moves on by whole Buckets: a request counts in the
// bucket it ended in, and a bucket leaves the window all at once. At each
// failure the breaker trips if either rule holds:
//
//   - ratio: the window holds at least MinRequests counted outcomes, and at
//     least FailureRatio of them are failures;
//   - run: the last ConsecutiveFailures counted outcomes in the window are
//     all failures (exclusions neither break nor lengthen a run).
//
// The counts start again from zero at every change of state.
//
// # Defaults
//
// With the zero [Settings], a host's breaker trips when at least half of at
// least 10 counted requests in a rolling 10s window failed (the window rolls
// by 1s buckets), or after 5 failures in a row. It opens for 100ms, then lets
// 1 probe through; each failed probe doubles the open period, up to 500ms,
// and each period is drawn at random between half and all of its length. A
// Retry-After on the failure that opens the breaker holds it open as long
// as it asks, up to 60s. At most 1024 hosts have a breaker.
//
// # Open period and probing
//
// The breaker spares a failing host the traffic, not the knowledge of when
// it is back: a client should be back within a second of its server's
// recovery, however long the outage. So the open period is short and grows
// only while probes keep failing, and its cap (MaxOpenTimeout) bounds the
// wait for the next probe once the host is back. A probe is one logical
// request per open period and process, a few a second: through a minute's
// outage, a fraction of a percent of what callers without retries would
// send. The first period is shorter still, as many outages are blips (a
// leader election, a restarted pod). A trip within a Window of the breaker
// closing resumes the doubling rather than starting again: a host that fails
// again as soon as its traffic returns is not back for good. The random
// draw keeps the processes that saw one outage from probing in step.
// Figures behind these choices are in LAW.md.
//
// The breaker does not open under overload that the retries absorb: it
// judges logical requests, so a request refused twice and then served is a
// success, and only requests that spent their retries count against the
// host.
//
// # Refusals
//
// A refused request gets an [*OpenError], which matches [ErrOpen],
// verdict.ErrRefused and verdict.ErrNotSent through errors.Is, names the
// host and says how long the breaker stays open: "breaker: http://gw:8080
// is open for another 250ms". Its body is closed, as the RoundTripper
// contract asks. While the breaker is half-open, the requests beside the
// probe are refused the same way.
//
// A refusal takes no lock and allocates nothing (the refusals of one open
// period share their error), and it yields the processor (runtime.Gosched)
// before it returns. Callers often loop on a refusal without pausing; on a
// few cores, hundreds of goroutines doing so kept the goroutine that
// carried the probe's answer waiting its turn behind them, and the breaker
// closed long after its probe had succeeded. A refusal still returns at
// once when nothing else waits to run.
//
// # Drain operations
//
// Job completion, failure and error and user-task completion
// ([verdict.Drains]) pass an open or half-open breaker, uncounted and
// without taking the probe's place; while the breaker is closed they are
// counted like any request. A worker holding finished jobs must not lose
// them to a breaker that opened because activation polls failed: a
// completion refused locally is a job that times out on the broker and is
// activated again, more work for the cluster than the completion itself.
// Their number is bounded by the jobs already activated, and the breaker
// keeps new activations out, so letting them through cannot feed an
// overload. Not counting them keeps the rule simple: while open, the breaker
// waits for its own period and probe, whatever the drains see.
//
// # Job activations as probes
//
// A job activation is a long poll: a gateway that is up and has no job for
// it parks it, and says nothing until a job comes or its requestTimeout
// (often tens of seconds) runs out. As the probe it would hold the breaker
// half-open, refusing everything else, for all that time after the host is
// back; a worker that polls beside its other requests measured nothing
// through for 5s and more after an outage. So (an activation that asks for
// an answer at once, with a negative requestTimeout, is not parked, and
// probes like any request; see [verdict.Parks]):
//
//   - while requests other than activations are being refused (one was in
//     the last second), an activation does not take the probe's place: it
//     is refused, and one of those requests probes;
//   - an activation that does probe and has no answer after 250ms is
//     taken as parked (a gateway that is down refuses or answers it well
//     within that time): the next request refused beside it takes its
//     place and probes, and the activation's own answer, when it comes, is
//     not counted. With no other request, the activation stays the probe
//     until it is answered, so one that fails, however slowly, opens the
//     breaker again.
//
// With both, a worker that polls and creates is back within a second of an
// outage like one that only creates (0.2–0.6s in the whole-chain
// simulation). One that only polls waits for its probe's answer, which a
// gateway that is up gives as soon as it has a job.
//
// # Hosts
//
// The breakers live in ebb's per-host table (internal/hosts), bounded by
// Settings.MaxHosts. When a new host finds it full, a closed breaker that
// saw no request since the table last looked for room gives way (the look
// clears the mark of the others, which go next time). An open or half-open
// breaker is never forgotten: that would send traffic to a host known to be
// failing. A host that finds no room goes without a breaker, its requests
// passed straight on, until one gives way. The host's next request after
// its breaker was forgotten starts a new, closed one.
//
// # Built on gobreaker
//
// Each host's state machine is a github.com/sony/gobreaker/v2
// TwoStepCircuitBreaker, used through its documented API: it decides the
// transitions, admits probes (MaxRequests) and drops outcomes of requests
// sent before a transition (its generations). This layer keeps beside it
// what gobreaker cannot do cheaply or at all:
//
//   - the counts of the closed state. Asking gobreaker about every request
//     would take its mutex twice and read the clock twice per request; a
//     success is counted instead with an atomic add in a striped window,
//     and the bucket comes from a tick a timer moves on while requests flow,
//     so the path of a closed breaker takes no lock and reads no clock.
//     Failures are counted under the host's lock, and gobreaker is told of
//     one only when a trip rule holds (its ReadyToTrip then says yes);
//   - the open period, which gobreaker fixes at construction while here it
//     grows, is drawn at random, and may be lengthened by a Retry-After.
//     gobreaker's own is made negligible, and it is asked for a probe only
//     once this layer's period is over;
//   - a copy of the state, written by gobreaker's OnStateChange, so that
//     requests read it without a lock.
//
// Every call into gobreaker is made under the host's own mutex, so the copy
// is exact for whoever holds it.
//
// # Hooks
//
// [WithHooks] lets metrics and logs follow the breaker without this package
// importing them: transitions (in order per host, never overlapping) and
// refusals, each with the host as host:port. No hook is called under a
// lock; a hook may call [Transport.Stats]. Transitions are lazy, as in
// gobreaker: an open breaker turns half-open when a request finds its
// period over. [Transport.Stats] reports the state a request would find
// without moving the breaker.
//
// # Concurrency and the RoundTripper contract
//
// A Transport is safe for concurrent use. It never modifies the caller's
// request, returns a response or an error and never both, and returns any
// response it obtained with a nil error. Whatever it holds — a probe's
// place, a response — is released on every path: a panic of the layer
// below or of a hook reaches the caller, after a response the layer held is
// closed, and leaves the breaker as if it had not happened. The only
// goroutine it starts is its timer's, once a Bucket while requests flow. A
// probe holds the breaker half-open until it returns, so a probe is bounded
// by Settings.ProbeTimeout (10s, plus a long poll's requestTimeout) unless
// its deadline comes sooner: a host that never answers fails its probe and
// the breaker opens again. Time comes from time.Now and time timers, so
// tests run the layer under testing/synctest.
package breaker
