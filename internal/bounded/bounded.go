package bounded

import (
	"context"
	"errors"
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

// RoundTrip sends req through next under a deadline d from now, keeping the
// deadline's context alive until the response's body is closed, since the
// caller reads the body under it. timedOut reports that the attempt failed
// because d ran out while the request's own context had not ended.
func RoundTrip(next http.RoundTripper, req *http.Request, d time.Duration) (resp *http.Response, timedOut bool, err error) {
	ctx, cancel := context.WithTimeout(req.Context(), d)
	resp, err = next.RoundTrip(req.WithContext(ctx))
	if resp == nil || resp.Body == nil {
		cancel()
		timedOut = err != nil && ctx.Err() != nil && req.Context().Err() == nil
		return resp, timedOut, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, false, err
}

// cancelBody releases an attempt's context once its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
