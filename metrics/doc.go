// Package metrics exports every decision of ebb's chain as Prometheus
// metrics, so that operators of worker fleets see backpressure before it
// becomes an incident: how often the cluster pushes back, what retrying
// costs, whether breakers are open, where each limiter sits.
//
// It is fed from two layers of the chain and from the hooks of the others:
//
//	Requests (per logical request)  ebb_requests_total, ebb_request_duration_seconds
//	  -> breaker                    BreakerHooks: ebb_breaker_state, _transitions_total, _rejections_total
//	    -> retry                    RetryHooks: ebb_retries_total, ebb_retry_delay_seconds,
//	                                ebb_retry_budget_exhausted_total, ebb_attempts_per_request
//	      -> limiter                LimiterHooks: ebb_limiter_limit, _in_flight, _waiting,
//	                                _wait_seconds, _rejections_total
//	        -> Attempts (per attempt) ebb_attempts_total, ebb_backpressure_total
//	          -> base
//
// Package transport wires all of it with transport.WithMetrics; the layers
// and hooks can also be used one by one.
//
// # Labels
//
// Labels are bounded: host (host:port, never userinfo; beyond
// Options.MaxHosts hosts, "other"), route (a template from package verdict,
// such as /v2/jobs/{jobKey}/completion; bounded per host), method (the
// standard methods, else OTHER), code (the status, or "none" without a
// response), verdict and outcome (verdict names such as backpressure),
// reason (the verdict that called for a retry), source (backoff or
// retry_after), from and to (breaker states). No URL, key, header or body
// ever becomes a label.
//
// # Cost
//
// Series handles are cached per label combination after their first use, so
// a request costs a few map lookups under a read lock, no label formatting
// and no allocation once its series exist.
//
// # Registration
//
// [New] registers with the Registerer it is given, never with the global
// registry unless that is what the caller passes. A second Metrics on the
// same registry reuses the collectors already there.
package metrics
