// Package bench measures ebb side by side with the libraries it competes
// with: github.com/hashicorp/go-retryablehttp and github.com/failsafe-go/failsafe-go
// (its failsafehttp package). It is a module of its own so that those
// libraries never enter ebb's go.mod; the package itself holds only tests
// and benchmarks, and its commands and internal packages the harness that
// measures over real loopback.
//
//	cd bench && go test ./...                            # the tests, in-process comparisons under synctest
//	cd bench && go test -run x -bench . -benchmem        # happy path and memory
//	cd bench && go run ./cmd/dynamics                    # the dynamics over loopback, about an hour
//
// Three kinds of measurement, each reported in README.md with the commit it
// measured:
//
//   - Overload in process (overload_test.go): 64 goroutines against a
//     simulated server under testing/synctest, one process and four,
//     deterministic enough to be a test.
//   - Happy path and memory (happy_test.go, memory_test.go): the cost of each
//     library on a request that succeeds at once, and of retrying a large
//     upload.
//   - Dynamics over real loopback (cmd/dynamics with cmd/slotserver and
//     cmd/loadclient): the server and every client in processes of their
//     own, side by side in the same run, through steady overload, outages,
//     capacity that halves and returns, a lone client, a hot partition and
//     a fleet of processes; medians and ranges over repetitions, tables and
//     charts written to dynamics/ and README.md.
//
// The contenders are configured as their documentation shows
// (internal/contender has the exact settings): go-retryablehttp's client
// with its logger off; failsafe-go's retry policy and circuit breaker, the
// breaker around the retries as Camunda's guidance asks (its documented
// order, the breaker inside, is measured apart in the in-process tables);
// ebb's transport.New with no options, and the same with its limiter off.
package bench
