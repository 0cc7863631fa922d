package retry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/ebb-go/ebb/verdict"
)

// Hooks are told what the layer does, so that metrics and logs can follow it
// without this package knowing them. Each is called synchronously on the
// request's goroutine, never under a lock; a nil hook costs nothing. Hooks
// must not modify the Event's Request.
type Hooks struct {
	// OnAttempt is called after every attempt with its verdict.
	OnAttempt func(Event)
	// OnRetry is called when a retry is scheduled, before the wait, with
	// the delay and where it came from.
	OnRetry func(Event)
	// OnDone is called once per logical request, when it ends, with the
	// number of attempts made and why it stopped.
	OnDone func(Event)
}

func (h *Hooks) any() bool { return h.OnAttempt != nil || h.OnRetry != nil || h.OnDone != nil }

// Event describes one step of a logical request.
type Event struct {
	// Request is the attempt's request: the caller's for the first
	// attempt, a clone for the later ones.
	Request *http.Request
	// Host is the request's host as host:port, the metrics label.
	Host string
	// Route is the request's route (verdict.RouteOf), worked out once per
	// logical request. Its Template is empty for paths outside Camunda's
	// API, which a hook templates in a bounded table of its own
	// (verdict.Routes).
	Route verdict.Route
	// Attempt is the number of the attempt that just ended, from 1.
	Attempt int
	// Verdict is that attempt's verdict; in OnDone, the logical request's
	// outcome: the last attempt's verdict, or Canceled when the context
	// ended during a wait.
	Verdict verdict.Attempt
	// Delay is the wait before the next attempt (OnRetry only).
	Delay time.Duration
	// Source says where Delay came from (OnRetry only).
	Source Source
	// Stop says why the logical request ended (OnDone only).
	Stop Stop
	// Elapsed is the time from the start of the logical request to its
	// end, waits included (OnDone only).
	Elapsed time.Duration
}

// Source is where a retry's delay came from.
type Source uint8

const (
	// SourceBackoff is the exponential backoff with jitter.
	SourceBackoff Source = iota
	// SourceRetryAfter is the server's Retry-After, longer than the backoff.
	SourceRetryAfter
)

// String returns "backoff" or "retry_after", the values of the metrics
// label "source".
func (s Source) String() string {
	if s == SourceRetryAfter {
		return "retry_after"
	}
	return "backoff"
}

// Stop is why a logical request ended.
type Stop uint8

const (
	keepGoing Stop = iota
	// StopAnswered: the last verdict calls for no retry (a success, a
	// client error, an error that is not safe to repeat).
	StopAnswered
	// StopAttempts: the policy's attempts are spent.
	StopAttempts
	// StopBody: the request's body cannot be sent again (no GetBody, or
	// GetBody failed).
	StopBody
	// StopRetryAfter: the server asked to wait longer than MaxRetryAfter.
	StopRetryAfter
	// StopDeadline: the next attempt could not start before the context's
	// deadline, or the time bound of the breaker's probe the request is.
	StopDeadline
	// StopBudget: the host's retry budget is spent.
	StopBudget
	// StopCanceled: the context ended during the wait.
	StopCanceled
)

var stopNames = [...]string{"", "answered", "attempts", "body", "retry_after", "deadline", "budget", "canceled"}

// String returns the reason's name, such as "budget".
func (s Stop) String() string {
	if int(s) < len(stopNames) {
		return stopNames[s]
	}
	return "unknown"
}

// Error is returned when a logical request ends without a response: a
// transport error on its last attempt, or the context ending during a wait.
// It names the host and the attempts made, and unwraps to the cause.
type Error struct {
	// Host is the request's host as host:port.
	Host string
	// Attempts is the number of attempts made.
	Attempts int
	// Err is the last attempt's error, or the context's.
	Err error
	// Reached says an earlier attempt may have reached the server and
	// been carried out: it got no answer, or one that leaves its outcome
	// open (unavailable, 502, 504). The error then matches neither
	// verdict.ErrNotSent nor verdict.ErrRefused, whatever the last
	// attempt's said (a limiter's full queue, say): the request as a whole
	// may not be safe to send again.
	Reached bool
}

// Error reads "retry: host:port: N attempts: cause".
func (e *Error) Error() string {
	s := "s"
	if e.Attempts == 1 {
		s = ""
	}
	msg := fmt.Sprintf("retry: %s: %d attempt%s: %v", e.Host, e.Attempts, s, e.Err)
	if e.Reached {
		msg += " (an earlier attempt may have reached the server)"
	}
	return msg
}

// Unwrap returns the cause; when Reached, one that does not match the
// sentinels of a request that was never sent, though errors.As still finds
// the cause's own types (a *net.OpError, say) through it.
func (e *Error) Unwrap() error {
	if e.Reached {
		return reached{e.Err}
	}
	return e.Err
}

// Timeout reports whether the cause is a timeout: a deadline that passed,
// or a network error that says so. An *url.Error that wraps the Error (as
// http.Client returns it) asks its cause directly, without unwrapping, so
// that is where a caller's ue.Timeout() looks, as it would with a bare
// http.Transport.
func (e *Error) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// reached is the cause of an Error whose request may have reached the
// server: it matches what the cause matches but verdict.ErrNotSent,
// verdict.ErrRefused and the sentinels that imply them (such as
// limiter.ErrQueueFull, whose doc says nothing was sent).
type reached struct{ err error }

func (r reached) Error() string { return r.err.Error() }

func (r reached) Is(target error) bool {
	return !hides(target) && errors.Is(r.err, target)
}

// hides reports whether err matches a sentinel that says nothing was sent.
func hides(err error) bool {
	return errors.Is(err, verdict.ErrNotSent) || errors.Is(err, verdict.ErrRefused)
}

// As finds the cause's own types, as errors.As would, but for any error in
// the cause that matches the sentinels it hides: errors.As into an error
// or an interface would otherwise hand out a wrapper through which
// errors.Is finds them again. (It has no Unwrap, for the same reason.)
func (r reached) As(target any) bool {
	v := reflect.ValueOf(target).Elem() // errors.As has checked target
	return asUnhidden(r.err, v)
}

// asUnhidden is errors.As over err's tree, skipping the errors that match
// the sentinels reached hides, and what they wrap but through Unwrap.
func asUnhidden(err error, v reflect.Value) bool {
	for err != nil {
		if !hides(err) {
			if reflect.TypeOf(err).AssignableTo(v.Type()) {
				v.Set(reflect.ValueOf(err))
				return true
			}
			if x, ok := err.(interface{ As(any) bool }); ok && x.As(v.Addr().Interface()) {
				return true
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if asUnhidden(e, v) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

type attemptsKey struct{}

// WithMaxAttempts returns a context under which requests get at most n
// attempts, whatever the policy says; n < 1 counts as 1.
func WithMaxAttempts(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, attemptsKey{}, max(n, 1))
}

// WithoutRetry returns a context under which requests are sent once.
func WithoutRetry(ctx context.Context) context.Context { return WithMaxAttempts(ctx, 1) }
