package bounded

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestDrain(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		limit   int
		wantEOF bool
	}{
		{"within the limit", "hello", 10, true},
		{"beyond the limit", "hello world", 5, false},
		{"empty", "", 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &readCloser{Reader: strings.NewReader(tt.give)}
			if got := Drain(r, tt.limit, time.Second); got != tt.wantEOF {
				t.Errorf("Drain = %v, want %v", got, tt.wantEOF)
			}
			if !r.closed {
				t.Error("the body was not closed")
			}
		})
	}
}

func TestDrainStalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &stallBody{prefix: "abc", done: make(chan struct{})}
		start := time.Now()
		if Drain(b, 1<<10, 100*time.Millisecond) {
			t.Error("a stalled body was reported read to its end")
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("returned after %v, want 100ms", d)
		}
	})
}

// fnRT is an http.RoundTripper made of a function.
type fnRT func(*http.Request) (*http.Response, error)

func (f fnRT) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// callerCtx returns a caller's context with a deadline d from now, or
// none when d is 0.
func callerCtx(t *testing.T, d time.Duration) context.Context {
	if d == 0 {
		return context.Background()
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newReq(t *testing.T, ctx context.Context) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://sim.test/v2/topology", nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// The bound covers the wait for the headers only: the body is read under
// the caller's context, also after the bound, and the attempt's context
// ends when the body is closed.
func TestRoundTripBoundsHeadersOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen context.Context
		next := fnRT(func(r *http.Request) (*http.Response, error) {
			seen = r.Context()
			time.Sleep(100 * time.Millisecond) // headers within the bound
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok"))}, nil
		})
		req := newReq(t, context.Background())
		resp, timedOut, err := RoundTrip(next, req, time.Second, false)
		if err != nil || timedOut {
			t.Fatalf("RoundTrip = %v, %v", timedOut, err)
		}
		if req.Context() == seen {
			t.Fatal("the caller's request was given to next as it is")
		}
		time.Sleep(5 * time.Second) // far past the bound
		if seen.Err() != nil {
			t.Fatalf("the attempt's context ended before the body was closed: %v", seen.Err())
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
			t.Fatalf("body %q", b)
		}
		resp.Body.Close()
		if !errors.Is(seen.Err(), context.Canceled) {
			t.Fatalf("after Close the attempt's context is %v, want canceled", seen.Err())
		}
	})
}

func TestRoundTripTimedOut(t *testing.T) {
	// next waits for its context, as net/http's Transport waiting for
	// headers does, and reports its cause.
	wait := fnRT(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, context.Cause(r.Context())
	})
	fail := errors.New("connection refused")
	tests := []struct {
		name         string
		next         http.RoundTripper
		parent       time.Duration // the caller's own deadline; 0: none
		want         time.Duration // how long RoundTrip takes
		wantTimedOut bool
	}{
		{"the bound runs out", wait, 0, 250 * time.Millisecond, true},
		{"the caller's deadline comes first", wait, 100 * time.Millisecond, 100 * time.Millisecond, false},
		{"a quick failure is not a timeout", fnRT(func(*http.Request) (*http.Response, error) { return nil, fail }), 0, 0, false},
		{"an answer without a body", fnRT(func(*http.Request) (*http.Response, error) { return &http.Response{StatusCode: 204}, nil }), 0, 0, false},
		{"a next that reports ctx.Err()", fnRT(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}), 0, 250 * time.Millisecond, true},
		{"headers just as the bound runs out", fnRT(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("late"))}, nil
		}), 0, 250 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := callerCtx(t, tt.parent)
				start := time.Now()
				resp, timedOut, err := RoundTrip(tt.next, newReq(t, ctx), 250*time.Millisecond, false)
				if d := time.Since(start); d != tt.want {
					t.Errorf("returned after %v, want %v", d, tt.want)
				}
				if timedOut != tt.wantTimedOut {
					t.Errorf("timedOut = %v (err %v), want %v", timedOut, err, tt.wantTimedOut)
				}
				if timedOut && (!errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
					t.Errorf("err = %v, want ErrTimeout, a deadline and not a cancellation", err)
				}
				if resp != nil && resp.Body != nil {
					resp.Body.Close()
				}
			})
		})
	}
}

// Over loopback: net/http's Transport, waiting for the headers of a server
// that never sends them, gives up after the bound with ErrTimeout, and the
// caller's context is untouched.
func TestRoundTripLoopback(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	tr, req := loopback(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	resp, timedOut, err := RoundTrip(tr, req, 50*time.Millisecond, false)
	if resp != nil {
		resp.Body.Close()
		t.Fatalf("a server that sent no headers gave a response: %d", resp.StatusCode)
	}
	if !timedOut || !errors.Is(err, ErrTimeout) {
		t.Fatalf("RoundTrip = %v, %v; want a timeout", timedOut, err)
	}
	if req.Context().Err() != nil {
		t.Fatal("the caller's context ended")
	}
}

// Over loopback: once the headers are in, a body slower than the bound is
// still read to its end.
func TestRoundTripSlowBodyLoopback(t *testing.T) {
	tr, req := loopback(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first "))
		w.(http.Flusher).Flush()
		time.Sleep(150 * time.Millisecond)
		w.Write([]byte("last"))
	})
	resp, timedOut, err := RoundTrip(tr, req, 50*time.Millisecond, false)
	if err != nil || timedOut {
		t.Fatalf("RoundTrip = %v, %v", timedOut, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "first last" {
		t.Fatalf("body %q, %v; want the whole of it", b, err)
	}
}

// loopback serves h on loopback until the test ends, and returns a
// transport of its own and a GET of the server's root.
func loopback(t *testing.T, h http.HandlerFunc) (*http.Transport, *http.Request) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr, req
}

// Deadline gives the layers below the sooner of the caller's deadline and
// every running bound, the outer ones included (a probe's around a retried
// attempt's), while the context's own Deadline stays the caller's: the
// bound does not end the context once the headers are in, and a context
// derived below with a later deadline must not count on it.
func TestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tt := range []struct {
			name         string
			caller       time.Duration // 0: no deadline of the caller's
			outer, inner time.Duration // 0: no such bound
			want         time.Duration
		}{
			{"a bound, no deadline of the caller's", 0, 0, time.Second, time.Second},
			{"the caller's later", 5 * time.Second, 0, time.Second, time.Second},
			{"the caller's sooner", 500 * time.Millisecond, 0, time.Second, 500 * time.Millisecond},
			{"an outer bound sooner", 0, 2 * time.Second, 3 * time.Second, 2 * time.Second},
			{"an outer bound later", 0, 3 * time.Second, 2 * time.Second, 2 * time.Second},
		} {
			ctx := callerCtx(t, tt.caller)
			start := time.Now()
			var dl, own time.Time
			var ok, ownOK bool
			var next http.RoundTripper = fnRT(func(r *http.Request) (*http.Response, error) {
				dl, ok = Deadline(r.Context())
				own, ownOK = r.Context().Deadline()
				return &http.Response{StatusCode: 204}, nil
			})
			if tt.outer > 0 {
				inner := next
				next = fnRT(func(r *http.Request) (*http.Response, error) {
					resp, _, err := RoundTrip(inner, r, tt.inner, true)
					return resp, err
				})
				if _, _, err := RoundTrip(next, newReq(t, ctx), tt.outer, false); err != nil {
					t.Fatal(err)
				}
			} else if _, _, err := RoundTrip(next, newReq(t, ctx), tt.inner, true); err != nil {
				t.Fatal(err)
			}
			if !ok || dl.Sub(start) != tt.want {
				t.Errorf("%s: Deadline %v after the start (set: %v), want %v", tt.name, dl.Sub(start), ok, tt.want)
			}
			if wantOwn := tt.caller > 0; ownOK != wantOwn || ownOK && own.Sub(start) != tt.caller {
				t.Errorf("%s: the context's own deadline %v (set: %v), want the caller's", tt.name, own.Sub(start), ownOK)
			}
		}
		// Without a bound, Deadline is the context's.
		if _, ok := Deadline(context.Background()); ok {
			t.Error("a deadline without a bound or a caller's deadline")
		}
	})
}

// A holdable bound stops while a layer below holds it (the limiter's queue)
// and runs again, whole, once the attempt leaves: an attempt that waits
// longer than the bound, then is answered within it, is in time; one whose
// answer then takes longer is not. A bound that is not holdable runs on.
func TestRoundTripHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tt := range []struct {
			name     string
			holdable bool
			answer   time.Duration // after leaving
			timedOut bool
		}{
			{"answered within the bound after the wait", true, 900 * time.Millisecond, false},
			{"answered after the bound after the wait", true, 1100 * time.Millisecond, true},
			{"not holdable", false, 100 * time.Millisecond, true},
		} {
			start := time.Now()
			var gotHold bool
			var dlWhileHeld, dlAfter time.Time
			next := fnRT(func(r *http.Request) (*http.Response, error) {
				ctx := r.Context()
				resume := Hold(ctx)
				gotHold = resume != nil
				dlWhileHeld, _ = Deadline(ctx)
				select {
				case <-time.After(3 * time.Second): // the wait in a queue
				case <-ctx.Done():
					return nil, context.Cause(ctx)
				}
				if resume != nil {
					resume()
				}
				dlAfter, _ = Deadline(ctx)
				select {
				case <-time.After(tt.answer):
					return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
				case <-ctx.Done():
					return nil, context.Cause(ctx)
				}
			})
			resp, timedOut, err := RoundTrip(next, newReq(t, context.Background()), time.Second, tt.holdable)
			if resp != nil {
				resp.Body.Close()
			}
			if gotHold != tt.holdable {
				t.Errorf("%s: Hold gave a resume: %v, want %v", tt.name, gotHold, tt.holdable)
			}
			if timedOut != tt.timedOut {
				t.Errorf("%s: timedOut = %v (%v), want %v", tt.name, timedOut, err, tt.timedOut)
			}
			if tt.holdable {
				if !dlWhileHeld.IsZero() {
					t.Errorf("%s: a deadline of %v while held, want none", tt.name, dlWhileHeld.Sub(start))
				}
				if want := 3*time.Second + time.Second; dlAfter.Sub(start) != want {
					t.Errorf("%s: deadline %v after the start once resumed, want %v", tt.name, dlAfter.Sub(start), want)
				}
			}
		}
	})
}

// Hold holds the innermost bound or nothing: a probe's bound inside an
// attempt's is not held, and does not let the attempt's be held through it.
func TestHoldInnermostOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got func()
		inner := fnRT(func(r *http.Request) (*http.Response, error) {
			got = Hold(r.Context())
			return &http.Response{StatusCode: 204}, nil
		})
		outer := fnRT(func(r *http.Request) (*http.Response, error) {
			resp, _, err := RoundTrip(inner, r, time.Second, false)
			return resp, err
		})
		if _, _, err := RoundTrip(outer, newReq(t, context.Background()), time.Second, true); err != nil {
			t.Fatal(err)
		}
		if got != nil {
			t.Error("Hold held a bound beyond the innermost, which is not holdable")
		}
	})
}
