// Command worker is a Camunda 8 job worker built on ebb, written the way a
// user would write one, and the project's main demo:
//
//	go run ./examples/worker            # -h for the flags and variables
//
// Without CAMUNDA_REST_ADDRESS it starts an emulated gateway in-process
// (package camundatest; -gateway-version picks the release whose answers it
// gives, 8.6 to 8.10) with a small capacity, and 16 goroutines that create
// process instances far faster than that capacity, so backpressure really
// happens. With CAMUNDA_REST_ADDRESS set (http://localhost:8080; a trailing
// /v2, as some of Camunda's SDKs write it, is dropped; an address without
// http:// or https:// is refused, exit 2) it works against that cluster
// instead, and creates instances of -process there only when -load says how
// many goroutines should. Against the standalone emulated gateway:
//
//	go run ./examples/gateway -addr 127.0.0.1:8080 -process payment-process=payment
//	CAMUNDA_REST_ADDRESS=http://127.0.0.1:8080 go run ./examples/worker -load 8
//
// # The client
//
// The client is built as a worker should build it: the program's own
// settings in code, the deployment's EBB_* and CAMUNDA_SDK_* variables
// layered over them, field by field, by transport.FromEnv; and a deadline
// on every request (10s, a long poll's requestTimeout on top), within which
// the transport retries and never past which it waits:
//
//	opts, err := transport.FromEnv(
//		transport.WithAttemptTimeout(5*time.Second), // EBB_ATTEMPT_TIMEOUT overrides
//		transport.WithMetrics(reg),
//	)
//	client := transport.NewClient(opts...)
//	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
//
// Keys are read whether the cluster writes them as JSON strings (8.8 and
// later) or as int64 JSON numbers (8.6 and 8.7 in application/json), and
// never through a float64.
//
// # The run
//
// It first asks the cluster's topology: when nothing answers it stops at
// once, exit 1, with the cause. The worker then polls /v2/jobs/activation
// in a loop. Backpressure on a poll is absorbed inside the transport
// (retried with backoff, held back by the limiter); outside it, an empty
// poll or a poll that finally failed backs off the way Camunda's Java client
// does by default: exponentially from 50ms to 5s by a factor of 1.6, with
// ±10% jitter. Each job is handled concurrently, up to -concurrency at
// once, and then completed, or, for a share of jobs, answered with a BPMN
// error (/error) or failed (/failure).
//
// While it runs, when stdout is a terminal and -quiet is not given, it
// prints a line a second: jobs answered and instances created per second,
// backpressure answers per second (ebb's metrics), and the limiter's limit,
// attempts in flight and waiting, and the breaker's state
// (transport.Of(client).Snapshot()). It serves ebb's metrics for
// Prometheus on -metrics-addr (127.0.0.1:9464 by default; empty to
// disable); the Grafana dashboard of examples/dashboard charts them.
//
// It runs for -duration (20s by default), then stops cleanly: it stops
// polling and creating, finishes the jobs in hand, and prints a summary:
// the demo's requests, by how they ended — succeeded, failed after ebb's
// retries (and why), or cut short at shutdown (ebb's outcome "canceled":
// the demo's own stop, which is no failure) — then ebb's attempts,
// backpressure and retries, the limiter (its limit, how many attempts
// waited for a permit and the mean wait), the breaker (its transitions,
// and the requests it refused while open, ebb's "refused": nothing was
// sent), and the emulated gateway's own counters. Ctrl-C ends it the same
// way.
//
// # Exit status
//
// 0 when the run succeeded. 1 when it failed: the cluster did not answer
// the topology, requests failed and none succeeded, or more than -max-failed
// (1% by default) of the requests that ended failed after ebb's retries;
// the cause of the first failure is printed on stderr. 2 on a bad flag,
// environment variable or address.
package main
