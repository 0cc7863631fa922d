// Command worker is a Camunda 8 job worker built on ebb, written the way a
// user would write one, and the project's main demo:
//
//	go run ./examples/worker
//
// Without CAMUNDA_REST_ADDRESS it starts an emulated gateway in-process
// (package camundatest) with a small capacity, and a load generator that
// creates process instances far faster than that capacity, so backpressure
// really happens. With CAMUNDA_REST_ADDRESS set (for example
// http://localhost:8080), it works against that cluster instead and creates
// no load of its own.
//
// The worker polls /v2/jobs/activation in a loop. Backpressure on a poll is
// absorbed inside the transport (retried with backoff, held back by the
// limiter); outside it, an empty poll or a poll that finally failed backs off
// the way Camunda's Java client does by default: exponentially from 50ms to
// 5s by a factor of 1.6, with ±10% jitter. Each job is handled concurrently,
// up to -concurrency at once, and then completed, or, for a share of jobs,
// answered with a BPMN error (/error) or failed (/failure).
//
// It runs for -duration (20s by default), then stops cleanly: it stops
// polling, finishes the jobs in hand, and prints a summary of jobs, requests,
// attempts, backpressure answers, retries and final failures — read from
// ebb's own metrics — beside the emulated gateway's counters. Ctrl-C ends it
// the same way. While it runs it serves those metrics for Prometheus on
// -metrics-addr (127.0.0.1:9464 by default; empty to disable). The
// transport reads the EBB_* and CAMUNDA_SDK_* variables (see package
// transport). It exits 1 if the run failed, 2 on bad flags or settings.
package main
