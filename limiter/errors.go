package limiter

import (
	"fmt"
	"time"

	"github.com/ebb-go/ebb/verdict"
)

// ErrQueueFull is matched, through errors.Is, by the error of an attempt
// refused because its host already had Settings.MaxWaiters attempts waiting
// for a permit. Nothing was sent. It matches [verdict.ErrRefused] and
// [verdict.ErrNotSent] too, so the other layers of ebb neither retry the
// refusal nor count it against the host, and know the request never left.
var ErrQueueFull error = &sentinel{
	msg:   "limiter: wait queue full, nothing sent",
	wraps: []error{verdict.ErrRefused, verdict.ErrNotSent},
}

type sentinel struct {
	msg   string
	wraps []error
}

func (e *sentinel) Error() string   { return e.msg }
func (e *sentinel) Unwrap() []error { return e.wraps }

// queueFullError names the host whose queue was full.
type queueFullError struct {
	host    string
	waiting int
}

func (e *queueFullError) Error() string {
	return fmt.Sprintf("limiter: wait queue full for %s (%d waiting), nothing sent", e.host, e.waiting)
}

func (e *queueFullError) Unwrap() error { return ErrQueueFull }

// waitError is the error of an attempt whose context ended while it waited
// for a permit: it matches the context's cause (its error, or the cause it
// was canceled with, such as an attempt's time bound running out) and
// [verdict.ErrNotSent], since the attempt never reached next.
type waitError struct {
	host   string
	waited time.Duration
	err    error
}

func (e *waitError) Error() string {
	return fmt.Sprintf("limiter: gave up waiting %v for a permit for %s, nothing sent: %v", e.waited, e.host, e.err)
}

func (e *waitError) Unwrap() []error { return []error{e.err, verdict.ErrNotSent} }
