// Package metrics exports every decision of ebb's chain as Prometheus
// metrics, so that operators of worker fleets see backpressure before it
// becomes an incident: how often the cluster pushes back, what retrying
// costs, whether breakers are open, where each limiter sits.
//
// It has no layer of its own. It is fed by the hooks of the layers, and
// reads the layers' state at scrape time:
//
//	RetryHooks      every attempt, retry and logical request: ebb_requests_total,
//	                ebb_request_duration_seconds, ebb_attempts_total,
//	                ebb_backpressure_total, ebb_attempts_per_request,
//	                ebb_retries_total, ebb_retry_delay_seconds,
//	                ebb_retry_budget_exhausted_total
//	BreakerHooks    ebb_breaker_transitions_total, ebb_breaker_rejections_total,
//	                and the requests it refuses (ebb_requests_total, outcome refused)
//	LimiterHooks    ebb_limiter_wait_seconds, ebb_limiter_rejections_total
//	WatchBreaker    ebb_breaker_state, read from the breaker's Stats at each scrape
//	WatchLimiter    ebb_limiter_limit, ebb_limiter_in_flight, ebb_limiter_waiting,
//	                read from the limiter's Stats at each scrape
//
// Package transport wires all of it with transport.WithMetrics. Each logical
// request's route is worked out once, by the retry layer, and reaches the
// hooks in their event.
//
// # Labels and their bounds
//
// Labels are bounded, so that no traffic can grow the series without limit:
//
//	host     host:port, folded (lower case, default port); at most MaxHosts
//	         (256) hosts, the others read "other"
//	route    a template such as /v2/jobs/{jobKey}/completion; at most
//	         MaxRoutes (100) per host, Camunda's included, the others read
//	         "other"; the hosts beyond MaxHosts share one such bound
//	method   the 7 standard methods, else OTHER
//	code     14 common statuses as themselves, others as their class (1xx
//	         to 5xx), "none" without a response, "other" for a status
//	         outside 100-599: at most 21 values
//	outcome, verdict, reason   the 8 verdict names
//	source   backoff or retry_after; from, to: the 3 breaker states
//
// So a family labelled by host, route, method and outcome holds at most
// 257 × 101 × 8 × 8 series, and the route-level families 257 × 101 times
// their other labels; in practice a worker talking to one cluster has a
// few dozen. No URL, key, header or body ever becomes a label.
//
// # Cost
//
// Series handles are cached per label combination after their first use,
// in lock-free read-mostly maps whose insertions cost O(1), so an event
// costs a few map reads, no label formatting and no allocation once its
// series exist.
//
// # Registration
//
// [New] registers with the Registerer it is given, never with the global
// registry unless that is what the caller passes. A second Metrics on the
// same registry reuses the collectors already there; the gauges of a host
// that several chains reach are summed.
package metrics
