// Package breaker is ebb's circuit breaker layer: an http.RoundTripper that
// stops sending requests to a host that keeps failing, for a while.
//
// # Model
//
// A circuit breaker watches the outcomes of the requests to a host. While it
// is closed, every request goes through and is counted. When too many fail,
// it trips open: for the open period every request fails at once, nothing is
// sent, so a host in trouble is not buried under requests that would fail
// anyway and callers learn it in nanoseconds rather than after a timeout.
// When the period is over the breaker is half-open: it lets one probe
// through; the probe's success closes the breaker, its failure opens it for
// another period.
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
//	           limiter queue): neither says anything about the host
//
// # Defaults
//
// With the zero [Settings], a host's breaker trips when at least half of at
// least 10 counted requests in a rolling 10s window failed (the window rolls
// by 1s buckets), or after 5 failures in a row; it stays open 10s and then
// lets 1 probe through. A Retry-After on the failing response that trips the
// breaker lengthens the open period to what it asks, up to 60s
// (Settings.MaxOpenTimeout). At most 1024 hosts have a breaker.
//
// # Refusals
//
// A refused request gets an [*OpenError], which matches [ErrOpen] and
// verdict.ErrRefused through errors.Is, names the host and says how long the
// breaker stays open: "breaker: http://gw:8080 is open for another 7.5s".
// Its body is closed, as the RoundTripper contract asks. While the breaker
// is half-open, the requests beside the probe are refused the same way. A
// refusal by an open breaker takes no lock: a storm of requests against an
// open breaker does not queue.
//
// # Drain operations
//
// Job completion, failure and error and user-task completion
// ([verdict.Route.Drain]) pass an open or half-open breaker, uncounted and
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
// # Hosts
//
// The hosts with a breaker are bounded by Settings.MaxHosts. When a new host
// comes and the table is full, one breaker gives way, by the clock
// algorithm: the first closed breaker that saw no request since the previous
// such scan, else any closed one, else any one. An open breaker is kept
// while a closed one can go, since forgetting it would send traffic to a
// host known to be failing. The host's next request starts a new, closed
// breaker. The lookup on each request is a read of an immutable map, which
// is copied only when a host is added.
//
// # Built on gobreaker
//
// Each host's breaker is a github.com/sony/gobreaker/v2 CircuitBreaker, with
// its rolling window (BucketPeriod), its exclusions (IsExcluded) and a
// ReadyToTrip made of the two rules above. The design named gobreaker's
// two-step breaker; this layer calls CircuitBreaker.Execute instead, with the
// same effect, because TwoStepCircuitBreaker.Allow returns a closure that
// escapes to the heap: one allocation of 48 bytes per request, where the
// function given to Execute stays on the stack (BenchmarkGobreaker: about
// 170ns and 1 allocation for Allow, 127ns and none for Execute). A closed
// breaker adds about 160ns and no allocation to a request
// (BenchmarkRoundTrip).
//
// The layer keeps the end of the open period itself, because gobreaker's is
// fixed while a Retry-After may lengthen it, and refuses while it lasts
// without asking gobreaker. gobreaker calls OnStateChange under its lock, so
// the layer only queues transitions there and calls [Hooks] after the lock
// is released.
//
// # Hooks
//
// [WithHooks] lets metrics and logs follow the breaker without this package
// importing them: transitions (in order per host, never overlapping),
// refusals and evictions, each with the host as host:port. No hook is called
// under a lock; a hook may call [Transport.State]. Transitions are lazy, as
// in gobreaker: an open breaker turns half-open when a request or a call to
// State finds its period over.
//
// # Concurrency and the RoundTripper contract
//
// A Transport is safe for concurrent use. It never modifies the caller's
// request, returns a response or an error and never both, and returns any
// response it obtained with a nil error. It starts no goroutine. A probe
// holds the breaker half-open until it returns, so give requests a deadline
// (a context or http.Client.Timeout): a probe that never returns keeps the
// host refused. Time comes from time.Now, gobreaker's as well, so tests run
// the layer under testing/synctest.
//
// # Place in the chain
//
// In the chain built by package transport, the breaker sits between the
// per-request metrics and the retry layer:
//
//	metrics (per logical request) -> breaker -> retry -> limiter -> metrics (per attempt) -> base
package breaker
