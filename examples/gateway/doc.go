// Command gateway runs camundatest's emulated Camunda 8 gateway as a
// program, for trying a worker, an SDK or ebb against an overloaded cluster
// without one:
//
//	go run ./examples/gateway -addr 127.0.0.1:8080
//
// It prints the API's base URL (point a client's REST address at it; job
// workers call /v2/jobs/activation on it), which answers it gives and its
// capacity, serves until Ctrl-C or SIGTERM, then prints its counters:
// requests per route, accepted and refused by reason, and jobs created,
// activated, completed, failed and errored. With -report 5s it also prints,
// every five seconds in which something happened, a line of changes.
//
// Capacity: by default 2 requests in service at once, each served for 20ms,
// about 100 requests a second: a client that pushes harder is refused, so
// the default shows backpressure; even a shell loop does:
//
//	seq 200 | xargs -P 32 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
//	  -H 'Content-Type: application/json' -d '{"processDefinitionId":"order"}' \
//	  http://127.0.0.1:8080/v2/process-instances | sort | uniq -c
//
// -slots bounds the requests in service at once (0: no bound)
// and -service-time sets how long each is served; -rate and -burst bound
// the accepted rate instead or as well (-burst needs -rate). A request
// beyond capacity is refused at once with the backpressure answer of
// -version: 429 for 8.6 and 8.7, 503 RESOURCE_EXHAUSTED for commands and a
// 500 java.lang.RuntimeException for job activation for 8.8.0 to 8.8.2, 503
// RESOURCE_EXHAUSTED for 8.8.3 and later. Job completion, failure and error
// are never refused for capacity.
//
// Versions: -version takes 8.6, 8.7, 8.8.0 to 8.8.2, 8.8.3 (or any later
// 8.8 patch), 8.9 and 8.10 (Camunda's main); each answers with the members
// and key types of that release's spec (8.6 and 8.7 write keys as JSON
// numbers) and checks request bodies as that release does. Earlier and
// later releases are refused, naming those that are emulated.
//
// Processes: every process ID is known; its instances produce one job each,
// of the type given by -process id=type (once per id), or -job-type, or
// else named like the process.
//
// Faults: -unavailable, -aborted and -deadline-exceeded answer a share of
// requests 503, 502 and 504 (picked by a random source seeded with -seed,
// limited to -fault-routes if given, carried out first with
// -after-processing); -latency slows every answer; -retry-after adds a
// Retry-After header to every refusal. -force route=status[:n] answers the
// next n requests on a route (every request without :n) with an error the
// route documents, in Camunda's body for it, such as
// -force '/v2/jobs/{jobKey}/error=500:1'.
//
// Outages: -outage kind@after+length takes the gateway down once, after
// the first duration and for the second: refuse closes the port (new
// connections are refused), reset resets every connection once a request
// has been read from it. It prints a line, with the time since it began
// listening, when the outage starts and when it ends, for a client's
// recovery to be measured against:
//
//	go run ./examples/gateway -addr 127.0.0.1:8080 -outage refuse@10s+30s
//
// Flags that would be accepted and then ignored are refused: -burst without
// -rate, -exception-title with a release other than 8.6 or 8.7, a
// -fault-routes entry that is not a route of the gateway, -fault-routes,
// -after-processing or -seed without a fault share, a negative -report, a
// -process id given twice.
//
// Example: a gateway that serves about 400 requests a second under
// /zeebe, failing one request in twenty:
//
//	go run ./examples/gateway -slots 4 -service-time 10ms -context-path /zeebe -unavailable 0.05
//
// It exits 0 after Ctrl-C or -h, 2 on bad flags, 1 if it cannot listen.
package main
