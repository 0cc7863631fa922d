// Package bench measures ebb side by side with the libraries it competes
// with: github.com/hashicorp/go-retryablehttp and github.com/failsafe-go/failsafe-go
// (its failsafehttp package). It is a module of its own so that those
// libraries never enter ebb's go.mod. This package holds the in-process
// comparisons, tests and benchmarks run under testing/synctest; the
// dynamics harness (cmd/dynamics, with cmd/slotserver and cmd/loadclient)
// measures the same contenders (internal/contender) over real loopback
// with the server in a process of its own, and README.md has its tables
// and charts.
//
//	cd bench && go test -run . -bench . -benchmem
//	cd bench && go run ./cmd/dynamics            # 66 minutes
//
// The tests alone (go test ./...) take a few seconds: the overload runs are
// simulated under testing/synctest, and nothing touches the network. The
// tables below were measured on the project's machine (2 cores, AMD EPYC,
// Go 1.26); README.md has them in full. Runs differ, since the
// scheduler orders goroutines that wake at the same simulated instant and
// ebb and failsafe-go draw random jitter; go-retryablehttp, without jitter,
// gives the same single-process figures every time.
//
// # The contenders
//
// Each is configured as its documentation shows, with 5 attempts per
// request (package internal/contender has the exact settings):
//
//   - no retry: the simulated server itself;
//   - go-retryablehttp: retryablehttp.NewClient() with its logger off,
//     4 retries, backoff 1s, 2s, 4s, 8s without jitter;
//   - failsafe-go: failsafehttp.NewRetryPolicyBuilder with WithBackoff(1s,
//     30s), jitter factor 0.1 and 4 retries, and a circuit breaker counting
//     429, 503 and errors, opening after 5 failures in a row for a minute.
//     Composed as failsafe-go's documentation composes them,
//     RetryPolicy(CircuitBreaker(fn)), the breaker judges each attempt
//     ("breaker per attempt"); the other way round, as Camunda's guidance and
//     ebb have it, it judges each request after its retries ("breaker per
//     request");
//   - ebb: transport.New(base), and the same with its limiter off.
//
// # Overload
//
// TestOverloadComparison drives 64 goroutines in closed loops against a
// simulated server of 8 slots (10ms each on average, 800 requests a second)
// for one simulated minute; TestFleetComparison splits them into 4
// processes of 16, each with a client of its own. The server, like
// Camunda's gateway, refuses at once what it has no slot for, with a 503
// RESOURCE_EXHAUSTED.
//
//	one process               goodput  rejected  failed  Jain, goroutines
//	no retry                    98.0%     41.6%   41.6%  0.747
//	go-retryablehttp            98.0%      2.2%    0.4%  0.135
//	failsafe-go, per attempt     0.0%     87.5%   96.4%  0.125
//	failsafe-go, per request    98.0%      2.5%    0.3%  0.54 to 0.70
//	ebb                         97.9%      0.7%    0.0%  1.000
//	ebb, limiter off            98.0%     19.4%    3.3%  0.93 to 0.96
//
// Goodput does not tell the contenders apart: a server that refuses at once
// stays busy as long as some client keeps 8 requests in flight. What
// differs is what that costs and who is served. ebb's limiter holds the
// process's attempts to what the server accepts, so fewer than 1% of
// attempts are refused and no request fails; it hands out its permits in
// turn, so every goroutine gets the same share (Jain's index 1.000). The
// peers' long backoffs (1s and up) also keep rejections low, about 2%, but
// by starving most goroutines: the few whose requests got a slot send the
// next one at once and keep it, while the others sleep through seconds of
// backoff and retry into a full server. With go-retryablehttp, 9 of the 64
// goroutines did all the work (Jain 0.135) and 55 got no request through in
// the whole minute, each of theirs failing after 15 seconds of retries;
// failsafe-go's jitter spreads the luck a little (0.54 to 0.70).
// failsafe-go's documented composition fails outright: its breaker counts
// the first burst of refusals, opens, and refuses every attempt for the
// minute it stays open. Counting backpressure per attempt is the trap; per
// request the same breaker never opened in one process.
//
// Where the peers do better: the latency of the requests they do serve.
// ebb queues every request for its turn, 81ms at the median and 92ms at the
// 99th percentile, where the requests go-retryablehttp serves take 10 and
// 15ms. This is Little's law, not overhead: 64 requests always in flight at
// 784 a second spend 82ms each on average whoever serves them, and the
// peers' short times are those of the few goroutines that hold the server.
// ebb without its limiter retries after 100ms rather than 1s, and is
// refused far more often than the peers (19%).
//
//	four processes            goodput  rejected  failed  Jain, processes
//	go-retryablehttp            98.0%      2.2%    0.4%  0.48 to 0.99
//	failsafe-go, per request    98.0%   2.0-2.6%  0.3-13%  0.75 to 1.00
//	ebb                       97.1-97.4%  2.0-2.1%    0.0%  0.94 to 1.00
//	ebb, limiter off            98.0%    13-19%    6-23%  0.73 to 1.00
//
// (ranges over 20 runs; the single-process ranges are over 10). In a fleet
// ebb's four limiters each find their share on their own, and its rejected
// share rises to about 2%, the peers' level: on rejections it no longer
// wins, and the test shows the shares without comparing them. It still
// fails no request and shares the server evenly between processes. go-retryablehttp's
// shares between processes depend on which goroutines happen to win the
// slots: in 4 of 20 runs a whole process got no request through in the
// minute. In 9 of 20 runs one of failsafe-go's per-process breakers opened
// after 5 failed requests in a row and refused all of that process's
// requests for the rest of the minute.
//
// # Happy path
//
// BenchmarkHappyPath sends a POST without a body through each contender
// over a base that answers 200 at once. The base copies a preallocated
// response (one allocation, 144 B, paid by everyone): failsafe-go wraps the
// Body of the response it receives, and a shared response would gain a
// wrapper per request. Medians of 5 runs, beyond the base's 51ns:
//
//	go-retryablehttp  +155ns  +5 allocs  +256 B
//	failsafe-go       +548ns +22 allocs  +816 B
//	ebb               +233ns  +0 allocs    +0 B
//	ebb + metrics     +789ns  +0 allocs    +0 B
//
// go-retryablehttp is the fastest here, by about 80ns a request; ebb is the
// only one that allocates nothing. All of it is small beside a real round
// trip, tens of microseconds even on loopback.
//
// # Memory
//
// TestRetriedUploadMemory sends a 4 MiB body that the server refuses twice
// and accepts the third time, with each contender's defaults under
// synctest; BenchmarkRetriedUpload does the same with 1ms delays, and ebb's
// limiter off (a lone client refused on every request waits a probe
// interval at the limiter's floor, a second of real time). go-retryablehttp
// and failsafehttp read the body into memory before the first attempt (the
// body http.NewRequest makes from a bytes.Reader is not seekable once
// wrapped), through io.ReadAll's growing buffer: about 9.5 MiB allocated per
// request, 2.4 times the body. ebb sends the caller's body and replays it
// through req.GetBody, a new reader over the same bytes: about 10 KiB per
// request, whatever the body's size.
package bench
