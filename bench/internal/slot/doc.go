// Package slot is the server of the dynamics harness: a stand-in for a
// Camunda 8.8.3 gateway that serves POST /v2/process-instances with a fixed
// number of slots, each request holding one for a fixed service time, and
// refuses at once what finds no free slot with the gateway's answer:
//
//	503 Service Unavailable
//	Content-Type: application/problem+json
//
//	{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,
//	 "detail":"Expected to handle request, but all retries have been exhausted",
//	 "instance":"/v2/process-instances"}
//
// With the defaults, 32 slots of 10ms, it serves at most 3,200 requests a
// second; what it really serves on a given machine is for a capacity probe
// to measure (a client that keeps exactly as many requests in flight as
// there are slots is never refused).
//
// A second listener, the control endpoint, changes the server while it
// runs and reports what it did:
//
//	POST /reset?t0=<unix ns>   all back to the start settings; counters and
//	                           the time series restart, bucketed from t0
//	POST /slots?n=16           serve with n slots (0: the start setting)
//	POST /outage?mode=M        M = unavailable: answer every request at once
//	                           with 503 UNAVAILABLE; refuse: close the
//	                           listener and every connection, so that dials
//	                           are refused; off: serve again
//	POST /share?p=0.25         refuse this share of requests at random,
//	                           whatever the load (a hot partition)
//	POST /refuse-next?k=3      refuse the next k requests, then serve
//	GET  /counters             JSON: totals by answer, 100ms time series of
//	                           accepted, refused and unavailable answers from
//	                           t0, and the instants of the changes above
//	POST /quit                 stop the server
//
// Every change is recorded with the instant the server applied it,
// relative to t0, so that a driver can measure from the server's own
// clock. A request counts in the series at the instant it is answered.
//
// The server listens on loopback only. All of its methods are safe for
// concurrent use.
package slot
