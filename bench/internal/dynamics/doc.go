// Package dynamics is the driver of the bench's dynamics harness
// (cmd/dynamics): the scenarios of ebb's issue 10, run over real loopback
// with the server in a process of its own, for ebb and its peers side by
// side, repeated, summarised as median [min–max], written as JSON, Markdown
// and PNG charts.
//
// # Processes
//
// Build compiles cmd/slotserver (package slot) and cmd/loadclient (package
// load) once. Run starts one server process for the whole run and, for each
// client run, one client process per simulated worker process: a contender
// (package contender) driving goroutines in closed loops, every logical
// request a POST of {"processDefinitionId":"order"} with a 10s context.
// Each scene resets the server to an instant T0 a little ahead (Lead,
// 500ms), so that every process counts in 100ms buckets from the same
// instant; the driver makes the server's changes (an outage, halved slots)
// at their offsets from T0, and reads back when the server applied them.
// Clients run one after the other, never together, in an order that
// rotates with the repetition.
//
// # Scenarios and figures
//
// Defaults in parentheses; Config has them all.
//
//   - probe, at the start of every repetition: a client without retries
//     keeping exactly Slots (32) requests in flight for 4s after 1s of
//     warm-up, which the server never refuses. Its successes per second
//     are the capacity every ratio of that repetition divides by.
//   - steady: Goroutines (256) closed loops for 8s after 4s of warm-up.
//     goodput = successes per second / capacity; wasted = the share of
//     attempts (counted below the contender) not answered 2xx; failed = the
//     share of logical requests not ending in a 2xx; p50 and p99 of the
//     logical requests' latencies; p99 / floor, the floor being the
//     queueing time of a fair closed loop, G / capacity; starved =
//     goroutines with no success in the whole run; Jain's index over the
//     goroutines' successes.
//   - hot: HotGoroutines (48) against a server refusing HotShare (25%) of
//     the requests at random whatever the load, 8s after 3s; the same
//     figures, and ok/s as a ratio to ebb without its limiter in the same
//     repetition.
//   - lone: one goroutine, one request, refused LoneRefusals (3) times
//     then accepted: its wall time, and that over the sum of the mean waits
//     its retry policy promises (contender.Contender.Promise).
//   - halve: 5s of steady overload, 5s with half the slots, 5s restored.
//     refill = from the server's restoring the slots until its accepted
//     answers reach 90% of the capacity: the end of the first 100ms bucket
//     at that level from which the next five hold it on average.
//   - outage-<length>[-refuse]: 5s of steady overload, the outage (5s and
//     30s answered with 503 UNAVAILABLE, 5s with connections refused),
//     12s after. recovery = from the server's recovery until its accepted
//     answers reach 90% of what they were in the 2s before the outage
//     (same rule as refill); the attempts sent during the outage, and
//     their share of those of a client without retries in the same
//     repetition.
//   - fleet-together, fleet-staggered: FleetProcs (4) client processes of
//     FleetGoroutines (64), started together, or one alone for FleetAlone
//     (10s) before the others join; figures over 7s from 5s after the last
//     start: the steady figures with G = 256, and Jain's index over the
//     processes' successes with the smallest and largest share.
//
// A time that never comes within the run is +Inf ("∞" in the tables); a
// figure with nothing to measure is NaN ("—").
//
// # Outputs
//
// Write puts results.json (every record, every figure, the series the
// charts are drawn from, and the summary), results.md and the charts in a
// directory; UpdateReadme replaces a README's section between
// "<!-- dynamics:begin -->" and "<!-- dynamics:end -->". The Markdown
// holds a table in the shape of issue 10's, a table of its six goals for
// ebb, and a table per scenario. The charts show, for each client's median
// run, the server's accepted answers per 100ms around each outage and the
// halving, the distribution of the steady overload's latencies, and each
// fleet process's goodput over time.
//
// Nothing here is safe for concurrent use: Run is a program's main loop.
package dynamics
