package breaker

import (
	"errors"
	"time"

	"github.com/ebb-go/ebb/verdict"
)

// ErrOpen is matched, through errors.Is, by the error of every request the
// breaker refuses. It matches verdict.ErrRefused and verdict.ErrNotSent
// too, so every layer of ebb knows that nothing was sent.
var ErrOpen error = &sentinel{}

type sentinel struct{}

func (*sentinel) Error() string   { return "breaker: open" }
func (*sentinel) Unwrap() []error { return notSent }

var notSent = []error{verdict.ErrRefused, verdict.ErrNotSent}

// OpenError is the error of a request refused by an open or half-open
// breaker; nothing was sent. errors.As gives it to callers that want to know
// when to come back. The refusals of one open period share one OpenError,
// so that a refusal allocates nothing: do not modify it.
type OpenError struct {
	// Host is the host whose breaker refused, as scheme://host:port.
	Host string
	// State is Open, or HalfOpen when the probes are already out.
	State State
	// Until is the end of the open period: the first probe goes out after
	// it. It is the zero Time when half-open.
	Until time.Time
}

// Remaining returns how long the breaker stays open from now: 0 once the
// period is over, and when half-open.
func (e *OpenError) Remaining() time.Duration {
	if e.Until.IsZero() {
		return 0
	}
	return max(time.Until(e.Until), 0)
}

// Error says which host refused and, reading the clock, for how long, such
// as "breaker: http://gw:8080 is open for another 250ms".
func (e *OpenError) Error() string {
	if e.State == HalfOpen {
		return "breaker: " + e.Host + " is half-open, waiting for its probe"
	}
	r := e.Remaining()
	if r >= time.Millisecond {
		r = r.Round(time.Millisecond)
	}
	return "breaker: " + e.Host + " is open for another " + r.String()
}

// Unwrap returns ErrOpen, through which a refusal also matches
// verdict.ErrRefused and verdict.ErrNotSent. The slice is shared: do not
// modify it.
func (e *OpenError) Unwrap() []error { return sentinels }

var sentinels = []error{ErrOpen}

// errNoResponse stands in for the answer of a next RoundTripper that broke
// its contract by returning neither a response nor an error, so that the
// caller still gets one clear answer.
var errNoResponse = errors.New("breaker: next RoundTripper returned neither a response nor an error")
