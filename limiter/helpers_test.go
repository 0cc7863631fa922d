package limiter_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/verdict"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const problem = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503}`

// gate is an in-memory RoundTripper that holds every attempt until the test
// answers it, so that tests decide what is in flight and when it returns.
// Run it under testing/synctest, where synctest.Wait lets every attempt
// reach it.
type gate struct {
	mu    sync.Mutex
	calls []*call
}

type call struct {
	req    *http.Request
	answer chan func() (*http.Response, error)
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &call{req: req, answer: make(chan func() (*http.Response, error), 1)}
	g.mu.Lock()
	g.calls = append(g.calls, c)
	g.mu.Unlock()
	select {
	case a := <-c.answer:
		return a()
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}

// take returns the attempts that reached the gate since the last take.
func (g *gate) take() []*call {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.calls
	g.calls = nil
	return c
}

func (c *call) ok() {
	c.answer <- func() (*http.Response, error) { return answer(c.req, 200, ""), nil }
}
func (c *call) backpressure() {
	c.answer <- func() (*http.Response, error) { return answer(c.req, 503, problem), nil }
}

func answer(req *http.Request, code int, body string) *http.Response {
	h := http.Header{}
	if body != "" {
		h.Set("Content-Type", "application/problem+json")
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: req}
}

// recorder keeps what the hooks said.
type recorder struct {
	mu                        sync.Mutex
	limits, inFlight, waiting []int
	waits                     []time.Duration
	rejects                   int
	hosts                     map[string]bool
}

func (r *recorder) hooks() limiter.Hooks {
	add := func(host string, s *[]int, n int) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.hosts == nil {
			r.hosts = map[string]bool{}
		}
		r.hosts[host] = true
		*s = append(*s, n)
	}
	return limiter.Hooks{
		OnLimit:    func(host string, n int) { add(host, &r.limits, n) },
		OnInFlight: func(host string, n int) { add(host, &r.inFlight, n) },
		OnWaiting:  func(host string, n int) { add(host, &r.waiting, n) },
		OnWait: func(host string, d time.Duration) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.waits = append(r.waits, d)
		},
		OnReject: func(host string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.rejects++
		},
	}
}

func last(s []int) int {
	if len(s) == 0 {
		return -1
	}
	return s[len(s)-1]
}

func (r *recorder) lastLimit() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return last(r.limits)
}

func (r *recorder) lastInFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return last(r.inFlight)
}

func (r *recorder) lastWaiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return last(r.waiting)
}

// frozen are settings whose limit moves only on backpressure: no growth
// from answers or time, never back to unlimited.
func frozen(h limiter.Hooks) limiter.Settings {
	return limiter.Settings{Increase: 1e-9, RecoveryInterval: time.Hour, UnlimitedAfter: -1, Hooks: h}
}

// result is what a RoundTrip returned.
type result struct {
	resp *http.Response
	err  error
	took time.Duration
}

// send runs one RoundTrip in a goroutine and returns where its result will
// arrive.
func send(rt http.RoundTripper, req *http.Request) <-chan result {
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- result{err: fmt.Errorf("panic: %v", r)}
			}
		}()
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if resp != nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		ch <- result{resp, err, time.Since(start)}
	}()
	return ch
}

func newReq(method, url string) *http.Request {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		panic(err)
	}
	return req
}

const target = "http://sim.test/v2/process-instances"

// saturate brings lt's host to a limit of n with n attempts in flight at g,
// which it returns, held: n+1 attempts go out while the limit is out of the
// way, and the first one is refused.
func saturate(t *testing.T, lt http.RoundTripper, g *gate, n int) []*call {
	t.Helper()
	var done []<-chan result
	for range n + 1 {
		done = append(done, send(lt, newReq("POST", target)))
	}
	waitIdle()
	calls := g.take()
	if len(calls) != n+1 {
		t.Fatalf("%d attempts reached the base, want %d", len(calls), n+1)
	}
	calls[0].backpressure()
	waitIdle()
	// The refused attempt returned; the others are still in flight.
	returned := 0
	for _, ch := range done {
		select {
		case r := <-ch:
			returned++
			if r.err != nil || r.resp.StatusCode != 503 {
				t.Fatalf("refused attempt: %v, %v", r.resp, r.err)
			}
		default:
		}
	}
	if returned != 1 {
		t.Fatalf("%d attempts returned, want 1", returned)
	}
	return calls[1:]
}

// isRefused reports whether err is a refusal of the limiter.
func isRefused(err error) bool { return verdict.Of(nil, nil, err).Kind == verdict.Refused }

// trackedBody records whether it was closed.
type trackedBody struct {
	io.Reader
	mu     sync.Mutex
	closed bool
}

func (b *trackedBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

func (b *trackedBody) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
