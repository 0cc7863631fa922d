package bounded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
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
func RoundTrip(next http.RoundTripper, req *http.Request, d time.Duration) (resp *http.Response, timedOut bool, err error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(d, func() { cancel(ErrTimeout) })
	resp, err = next.RoundTrip(req.WithContext(ctx))
	inTime := timer.Stop()
	if !inTime && req.Context().Err() == nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		cancel(nil)
		switch {
		case err == nil:
			// Headers that came as the bound ran out: the body can no
			// longer be read.
			err = ErrTimeout
		case !errors.Is(err, context.DeadlineExceeded):
			// A next RoundTripper that reported the end of its context
			// by ctx.Err() rather than its cause: keep its words, not its
			// context.Canceled, which would read as the caller's doing.
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

// cancelBody releases an attempt's context once its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}
