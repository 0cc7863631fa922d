package bounded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ErrStalled is the error of a read that ran out of time.
var ErrStalled = errors.New("body stalled: read cut short")

// Read reads r until EOF, limit bytes, an error, or timeout, whichever comes
// first, and returns what it read; it never reads past limit, so the rest
// can still be read from r. eof reports whether r ended within limit; err is
// the read error other than io.EOF, or ErrStalled when the time ran out, in
// which case r has been closed. With timeout <= 0 there is no time bound.
func Read(r io.ReadCloser, limit int, timeout time.Duration) (data []byte, eof bool, err error) {
	var stalled atomic.Bool
	if timeout > 0 {
		t := time.AfterFunc(timeout, func() {
			stalled.Store(true)
			r.Close()
		})
		defer t.Stop()
	}
	buf := make([]byte, 0, min(limit, 512))
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, rerr := r.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		switch {
		case stalled.Load():
			return buf, false, ErrStalled
		case rerr == io.EOF:
			return buf, true, nil
		case rerr != nil:
			return buf, false, rerr
		}
	}
	return buf, false, nil
}

// Drain reads and discards up to limit bytes of r within timeout, then
// closes it. It reports whether r was read to its end, which is what lets
// net/http reuse the connection.
func Drain(r io.ReadCloser, limit int, timeout time.Duration) bool {
	_, eof, _ := Read(r, limit, timeout)
	r.Close()
	return eof
}

// ErrTimeout is the cause with which RoundTrip ends an attempt that had no
// response headers within its bound. It matches context.DeadlineExceeded,
// so that the attempt reads as a timeout, not as the caller's cancellation.
var ErrTimeout = fmt.Errorf("no response headers within the attempt's bound: %w", context.DeadlineExceeded)

// RoundTrip sends req through next, bounding the wait for its response
// headers to d: the attempt's context ends with the cause [ErrTimeout] if
// they have not come by then. The body is not bounded: once the headers
// are in, the caller reads it under req's own context, and the attempt's
// context ends when the body is closed. timedOut reports that the attempt
// failed because d ran out while req's own context had not ended; a
// response whose headers came just as d ran out is closed and counts as
// timed out, since its body could no longer be read.
//
// The bound is not the context's deadline, since it does not end the
// context once the headers are in (a context derived below with a later
// deadline would count on it and lose its own): the layers of ebb that plan
// by a deadline read it with [Deadline]. With holdable, a layer below that
// makes the attempt wait before it leaves the process (the limiter's queue)
// holds the bound while it waits ([Hold]): the bound runs from sending the
// attempt.
func RoundTrip(next http.RoundTripper, req *http.Request, d time.Duration, holdable bool) (resp *http.Response, timedOut bool, err error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	// The context and its bound are one allocation.
	c := &boundCtx{Context: ctx, b: bound{d: d, at: time.Now().Add(d), cancel: cancel, holdable: holdable, parent: req.Context()}}
	b := &c.b
	b.timer = time.AfterFunc(d, b.fire)
	resp, err = next.RoundTrip(req.WithContext(c))
	if b.end() && req.Context().Err() == nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		cancel(ErrTimeout)
		switch {
		case err == nil:
			// Headers that came as the bound ran out: the body can no
			// longer be read.
			err = ErrTimeout
		case !errors.Is(err, ErrTimeout):
			// A next RoundTripper that reported the end of its context
			// by ctx.Err() rather than its cause: keep its words, but
			// not its context.Canceled (from a context of its own), which
			// would read as the caller's doing.
			err = fmt.Errorf("%w (%v)", ErrTimeout, err)
		}
		return nil, true, err
	}
	if resp == nil || resp.Body == nil {
		cancel(nil)
		return resp, false, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, false, err
}

// The states of a bound.
const (
	armed = iota // its timer runs
	held         // stopped while the attempt waits to leave the process
	fired        // it ran out
	over         // the attempt's headers are in, or it ended
)

// bound is the time bound of one attempt.
type bound struct {
	d        time.Duration
	cancel   context.CancelCauseFunc
	holdable bool
	// parent is the context the attempt was given, where Deadline looks
	// for the bound of the request the attempt is part of, if any (only
	// when asked: an attempt does not pay for the lookup).
	parent context.Context

	mu    sync.Mutex
	state int
	at    time.Time // when it runs out, while armed
	timer *time.Timer
}

func (b *bound) fire() {
	b.mu.Lock()
	if b.state != armed {
		b.mu.Unlock()
		return
	}
	b.state = fired
	b.mu.Unlock()
	b.cancel(ErrTimeout)
}

// end stops the bound once next has returned, and reports whether it ran
// out first (or as next returned).
func (b *bound) end() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	ranOut := b.state == fired || b.state == armed && !b.timer.Stop()
	b.state = over
	return ranOut
}

// resume runs the bound again, for its whole length, as the attempt leaves.
func (b *bound) resume() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == held {
		b.state, b.at = armed, time.Now().Add(b.d)
		b.timer.Reset(b.d)
	}
}

// deadline returns when the bound runs out, and false while it does not
// run.
func (b *bound) deadline() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.at, b.state == armed || b.state == fired
}

// Hold stops the time bound of the attempt whose context is ctx, if
// [RoundTrip] set a holdable one that has not run out (the innermost bound,
// when several are set), and returns the function that starts it again, for
// its whole length, once the attempt leaves the process; nil when there is
// nothing to hold. A layer calls it only when the attempt is about to wait,
// and calls the function it returns only if the attempt is then sent.
func Hold(ctx context.Context) (resume func()) {
	b := boundOf(ctx)
	if b == nil || !b.holdable {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != armed || !b.timer.Stop() {
		return nil
	}
	b.state = held
	return b.resume
}

// Deadline returns the sooner of ctx's deadline and the time the running
// bounds of [RoundTrip] on ctx run out, and whether there is either: the
// time a layer that plans by the deadline (the retry layer's backoff) must
// not plan past.
func Deadline(ctx context.Context) (time.Time, bool) {
	dl, ok := ctx.Deadline()
	for b := boundOf(ctx); b != nil; b = boundOf(b.parent) {
		if at, runs := b.deadline(); runs && (!ok || at.Before(dl)) {
			dl, ok = at, true
		}
	}
	return dl, ok
}

type boundKey struct{}

// boundOf returns the innermost bound set on ctx, or nil.
func boundOf(ctx context.Context) *bound {
	b, _ := ctx.Value(boundKey{}).(*bound)
	return b
}

// boundCtx is an attempt's context, which ends when the bound runs out,
// and finds the bound for Hold and Deadline.
type boundCtx struct {
	context.Context // canceled with ErrTimeout when the bound runs out
	b               bound
}

func (c *boundCtx) Value(key any) any {
	if _, ok := key.(boundKey); ok {
		return &c.b
	}
	return c.Context.Value(key)
}

// cancelBody releases an attempt's context once its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

// Unwrap returns the body it wraps, where package verdict finds the
// verdict it left there.
func (b *cancelBody) Unwrap() io.ReadCloser { return b.ReadCloser }

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}
