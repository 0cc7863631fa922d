package breaker

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The end-to-end tests run over loopback in real time, with a short open
// period. They assert on what reached the servers, not on durations: the
// only clock-bound claim is a lower bound (no probe before the open period
// ends), which a slow machine cannot break.

const e2eOpen = 100 * time.Millisecond

// gateway is an httptest server that answers like a Camunda gateway whose
// partitions are unavailable while down is set, and counts the requests it
// sees.
type gateway struct {
	*httptest.Server
	down atomic.Bool
	hits atomic.Int64
}

func newGateway(t *testing.T, down bool) *gateway {
	g := &gateway{}
	g.down.Store(down)
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.hits.Add(1)
		io.Copy(io.Discard, r.Body)
		if g.down.Load() {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"title":"UNAVAILABLE","status":503}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jobs":[]}`)
	}))
	t.Cleanup(g.Close)
	return g
}

// attempts counts the requests that reach the base RoundTripper, for the
// host with no server to count them.
type attempts struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (a *attempts) RoundTrip(req *http.Request) (*http.Response, error) {
	a.n.Add(1)
	return a.next.RoundTrip(req)
}

// e2eClient returns a client through a fresh breaker over its own
// http.Transport, closed when the test ends.
func e2eClient(t *testing.T) (*http.Client, *Transport, *attempts) {
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	a := &attempts{next: base}
	tr := New(a, Settings{OpenTimeout: e2eOpen})
	return &http.Client{Transport: tr}, tr, a
}

// post sends one activation request and reports its status, or 0 and the
// error.
func post(t *testing.T, c *http.Client, url string) (int, error) {
	t.Helper()
	resp, err := c.Post(url+"/v2/jobs/activation", "application/json", nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// untilLetThrough sends a request every few milliseconds until the breaker
// lets one through, checks that nothing reached the host meanwhile, and
// returns the status of the one let through.
func untilLetThrough(t *testing.T, c *http.Client, url string, seen func() int64) int {
	t.Helper()
	before := seen()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(100 * e2eOpen)
	for refused := 0; ; refused++ {
		code, err := post(t, c, url)
		if !errors.Is(err, ErrOpen) {
			if refused == 0 {
				t.Fatal("the first request after tripping was let through")
			}
			if got := seen() - before; got != 1 {
				t.Fatalf("%d requests reached the host for one let through", got)
			}
			if err != nil {
				return 0
			}
			return code
		}
		if seen() != before {
			t.Fatal("a refused request reached the host")
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("still refused after %v", 100*e2eOpen)
		}
	}
}

func TestE2EUnavailable(t *testing.T) {
	down := newGateway(t, true)
	healthy := newGateway(t, false)
	c, tr, _ := e2eClient(t)

	start := time.Now()
	for i := range 5 {
		if code, err := post(t, c, down.URL); code != 503 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
		// The healthy host beside it is unaffected.
		if code, err := post(t, c, healthy.URL); code != 200 {
			t.Fatalf("healthy host: %d %v", code, err)
		}
	}
	if got := state(tr, down.Listener.Addr().String()); got != Open {
		t.Fatalf("state %v after five 503s", got)
	}
	code := untilLetThrough(t, c, down.URL, down.hits.Load)
	if elapsed := time.Since(start); elapsed < e2eOpen {
		t.Fatalf("probe after %v, before the open period ended", elapsed)
	}
	if code != 503 || state(tr, down.Listener.Addr().String()) != Open {
		t.Fatalf("probe answered %d, state %v: want 503 and open again", code, state(tr, down.Listener.Addr().String()))
	}
	if got := healthy.hits.Load(); got != 5 {
		t.Fatalf("healthy host saw %d requests, want 5", got)
	}
	if state(tr, healthy.Listener.Addr().String()) != Closed {
		t.Fatal("healthy host's breaker not closed")
	}
	for range 20 {
		if code, err := post(t, c, healthy.URL); code != 200 {
			t.Fatalf("healthy host: %d %v", code, err)
		}
	}
}

func TestE2EConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	healthy := newGateway(t, false)
	c, tr, sent := e2eClient(t)

	for i := range 5 {
		if _, err := post(t, c, url); err == nil || errors.Is(err, ErrOpen) {
			t.Fatalf("request %d: %v, want a dial error", i, err)
		}
		if code, err := post(t, c, healthy.URL); code != 200 {
			t.Fatalf("healthy host: %d %v", code, err)
		}
	}
	if got := state(tr, strings.TrimPrefix(url, "http://")); got != Open {
		t.Fatalf("state %v after five refused connections", got)
	}
	before := sent.n.Load()
	for range 50 {
		if _, err := post(t, c, url); !errors.Is(err, ErrOpen) {
			t.Fatalf("while open: %v", err)
		}
	}
	if sent.n.Load() != before {
		t.Fatal("a refused request was sent")
	}
	untilLetThrough(t, c, url, sent.n.Load)
	if got := state(tr, strings.TrimPrefix(url, "http://")); got != Open {
		t.Fatalf("state %v after a failed probe", got)
	}
}

// TestE2ERecovery checks that traffic returns within one open period and one
// probe after the outage ends.
func TestE2ERecovery(t *testing.T) {
	g := newGateway(t, true)
	c, tr, _ := e2eClient(t)
	for range 5 {
		post(t, c, g.URL)
	}
	if state(tr, g.Listener.Addr().String()) != Open {
		t.Fatal("not open")
	}
	g.down.Store(false) // the outage ends
	if code := untilLetThrough(t, c, g.URL, g.hits.Load); code != 200 {
		t.Fatalf("probe answered %d", code)
	}
	if got := state(tr, g.Listener.Addr().String()); got != Closed {
		t.Fatalf("state %v after a successful probe", got)
	}
	before := g.hits.Load()
	for range 50 {
		if code, err := post(t, c, g.URL); code != 200 {
			t.Fatalf("after recovery: %d %v", code, err)
		}
	}
	if got := g.hits.Load() - before; got != 50 {
		t.Fatalf("%d of 50 requests reached the host", got)
	}
}
