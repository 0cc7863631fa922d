package verdict

// Kind is the verdict of one attempt: one row of the table in the package doc.
type Kind uint8

// The verdicts, in the order of the package doc's table.
const (
	// Success is a 1xx, 2xx or 3xx answer.
	Success Kind = iota
	// ClientError is a 4xx answer other than 429: the server is up, the
	// request is wrong, and sending it again will not help.
	ClientError
	// Backpressure is the server refusing work it has not started: 429, or a
	// 500 or 503 carrying RESOURCE_EXHAUSTED. Safe to retry for any method.
	Backpressure
	// Unavailable is a 502, a 504, or a 503 that is not backpressure. The
	// request may have been processed.
	Unavailable
	// ServerError is any other 5xx.
	ServerError
	// TransportError is an error from the base RoundTripper: a refused dial,
	// a TLS failure, a reset, an unexpected EOF, a timeout.
	TransportError
	// Canceled means the caller's context ended before an answer arrived.
	Canceled
	// Refused means a layer of ebb turned the request down locally (an open
	// breaker, a full limiter queue): nothing was sent. It is not in
	// the design's table of verdicts because it says nothing about the server: it is
	// never retried and never counted for or against a host's health.
	Refused
)

// NumKinds is the number of verdicts, for tables indexed by Kind.
const NumKinds = int(Refused) + 1

var kindNames = [NumKinds]string{
	Success:        "success",
	ClientError:    "client_error",
	Backpressure:   "backpressure",
	Unavailable:    "unavailable",
	ServerError:    "server_error",
	TransportError: "transport_error",
	Canceled:       "canceled",
	Refused:        "refused",
}

// String returns the verdict's name as used in metric labels and logs, such as
// "backpressure" or "transport_error".
func (k Kind) String() string {
	if int(k) < NumKinds {
		return kindNames[k]
	}
	return "unknown"
}

// Failure reports whether the verdict counts against the server's health
// once a logical request has run out of retries: backpressure, unavailable,
// server and transport errors. Success and client errors are not failures;
// cancellations are neither.
func (k Kind) Failure() bool {
	switch k {
	case Backpressure, Unavailable, ServerError, TransportError:
		return true
	}
	return false
}
