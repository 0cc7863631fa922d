// Package verdict decides what one HTTP attempt means for the layers above it.
//
// Every layer of ebb — retry, breaker, limiter, metrics — acts on the same
// reading of an attempt, computed here once: its [Kind] (the row of the table
// below), the RFC 9457 [Problem] the server sent if any, whether the broker is
// out of disk, and whether a transport error happened before the request was
// written.
//
//	kind            when                                          retried?
//	Success         1xx–3xx                                       no
//	ClientError     4xx other than 429                            no
//	Backpressure    429; 500/503 with RESOURCE_EXHAUSTED          yes, any method
//	Unavailable     other 503; 502; 504                           if safe to repeat
//	ServerError     other 5xx                                     no
//	TransportError  dial, TLS, reset, EOF, timeout                if safe to repeat or not sent
//	Canceled        the caller's context ended                    never
//	Refused         a layer of ebb refused it; nothing was sent   never
//
// The table covers every form Camunda 8 has used for backpressure: 429 with any
// body (8.6, 8.7 and SaaS edges, whatever the title), 503 titled
// RESOURCE_EXHAUSTED (8.8.3 and later), and the 8.8.0–8.8.2 job activation
// answer, a 500 titled java.lang.RuntimeException whose detail mentions
// RESOURCE_EXHAUSTED. A RESOURCE_EXHAUSTED whose detail says the broker is out
// of disk is still backpressure, but [Attempt.OutOfDisk] is set: it does not
// clear in seconds, and the breaker treats it as a failure at once.
//
// # Reading the body
//
// [Of] looks at a body only for 429, 500 and 503 answers whose Content-Type
// is application/problem+json or another JSON type, and then at most
// [MaxPeek] bytes of it, for at most [PeekTimeout]: a body that does not
// arrive in time is classified from what did, and its connection closed. A
// gzip body the caller asked for itself is read through a bounded
// decompression. Those are the statuses whose verdict the body can
// change; a 502 or 504 is Unavailable whatever it says, so its body is left
// unread. The response's Body is replaced by a reader that
// yields the peeked bytes and then the rest of the original body, so the caller
// reads exactly the bytes the server sent, however long. The replacement also
// carries the verdict: a second call to Of for the same response reads nothing
// and parses nothing. A body cut short, malformed JSON, an HTML page from a
// proxy or an empty body never make Of fail: the status decides, and a read
// error is handed to the caller at the point in the body where it happened.
//
// # Routes
//
// [RouteOf] maps a request path to a template such as
// /v2/jobs/{jobKey}/completion, whatever context path stands before /v2/, for
// metric labels and decisions: numeric keys and other ID-like segments
// collapse, Camunda's routes come from a fixed table without allocating, and
// the templates of other APIs are interned in a bounded table per host
// ([Routes]) beyond which they read "other". [Drains] is the one place that
// decides whether a request drains work from the cluster. A [Route] knows whether its operation is safe to repeat
// (Camunda's safe list) and whether it drains work from the cluster (job
// completion, failure and error; user-task completion).
//
// Everything in this package is safe for concurrent use.
package verdict
