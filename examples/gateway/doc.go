// Command gateway runs camundatest's emulated Camunda 8 gateway as a
// program, for trying a worker, an SDK or ebb against an overloaded cluster
// without one:
//
//	go run ./examples/gateway -addr 127.0.0.1:8080 -version 8.8.3 -slots 8 -service-time 20ms
//
// It prints the API's base URL (point a client's REST address at it; job
// workers call /v2/jobs/activation on it), serves until Ctrl-C or SIGTERM,
// then prints its counters: requests per route, accepted and refused by
// reason, and jobs created, activated, completed, failed and errored. With
// -report 5s it also prints a line of deltas every five seconds.
//
// Capacity: -slots bounds the requests in service at once and -service-time
// sets how long each is served, so throughput is about slots / service time;
// -rate and -burst bound the accepted rate instead or as well. A request
// beyond capacity is refused at once with the backpressure answer of
// -version: 429 for 8.6 and 8.7, 503 RESOURCE_EXHAUSTED for commands and a
// 500 java.lang.RuntimeException for job activation for 8.8.0 to 8.8.2, 503
// RESOURCE_EXHAUSTED for 8.8.3 and later. Job completion, failure and error
// are never refused for capacity.
//
// Processes: every process ID is known; its instances produce one job each,
// of the type given by -process id=type, or -job-type, or else named like
// the process.
//
// Faults: -unavailable, -aborted and -deadline-exceeded answer a share of
// requests 503, 502 and 504 (picked by a random source seeded with -seed,
// limited to -fault-routes if given, carried out first with
// -after-processing); -latency slows every answer; -retry-after adds a
// Retry-After header to every refusal.
//
// Example: a gateway that serves about 100 requests a second under
// /zeebe, failing one request in twenty:
//
//	go run ./examples/gateway -slots 2 -service-time 20ms -context-path /zeebe -unavailable 0.05
//
// It exits 2 on bad flags, 1 if it cannot listen.
package main
