package limiter_test

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/limiter"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func waitIdle() { synctest.Wait() }

const (
	target = "http://sim.test/v2/process-instances"
	label  = "sim.test:80"
)

// events keeps what the hooks were told.
type events struct {
	mu      sync.Mutex
	waits   []time.Duration
	rejects int
}

func (e *events) hooks() limiter.Hooks {
	return limiter.Hooks{
		OnWait: func(host string, d time.Duration) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.waits = append(e.waits, d)
		},
		OnReject: func(host string) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.rejects++
		},
	}
}

func (e *events) get() ([]time.Duration, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Duration(nil), e.waits...), e.rejects
}

// statsOf returns the numbers of host, and whether the limiter keeps it.
func statsOf(lt *limiter.Transport, host string) (limiter.HostStats, bool) {
	for _, s := range lt.Stats() {
		if s.Host == host {
			return s, true
		}
	}
	return limiter.HostStats{}, false
}

// stats returns the numbers of sim.test.
func stats(t *testing.T, lt *limiter.Transport) limiter.HostStats {
	t.Helper()
	s, ok := statsOf(lt, label)
	if !ok {
		t.Fatalf("no state for %s", label)
	}
	return s
}

// frozen are settings whose limit moves only on backpressure: no growth
// from answers or time, never back to unlimited.
func frozen() limiter.Settings {
	return limiter.Settings{Increase: 1e-9, RecoveryInterval: time.Hour, UnlimitedAfter: -1}
}

// result is what a RoundTrip returned.
type result struct {
	resp *http.Response
	err  error
	took time.Duration
}

// send runs one RoundTrip in a goroutine and returns where its result will
// arrive; a panic arrives as an error.
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

// saturate brings lt's host to a limit of n with n attempts in flight at g,
// which it returns, held: n+1 attempts go out while the limit is out of the
// way, and the first one is refused.
func saturate(t *testing.T, lt http.RoundTripper, g *testkit.Gate, n int) []*testkit.Held {
	t.Helper()
	var done []<-chan result
	for range n + 1 {
		done = append(done, send(lt, newReq("POST", target)))
	}
	waitIdle()
	calls := g.Take()
	if len(calls) != n+1 {
		t.Fatalf("%d attempts reached the base, want %d", len(calls), n+1)
	}
	calls[0].Answer(testkit.ResourceExhausted)
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

// answerAll answers every held attempt with step.
func answerAll(held []*testkit.Held, step testkit.Step) {
	for _, h := range held {
		h.Answer(step)
	}
}

// queued brings a limiter to a limit of 2, both permits held at the gate it
// returns, and queues n attempts behind them, each with its place in the
// X-Order header. No round is measured yet: a long poll holds its permit a
// tenth of RecoveryInterval, 100ms.
func queued(t *testing.T, n int) (*testkit.Gate, *limiter.Transport, []*testkit.Held) {
	t.Helper()
	g := &testkit.Gate{}
	lt := limiter.New(g, limiter.Settings{Increase: 1e-9, RecoveryInterval: time.Second, UnlimitedAfter: -1})
	held := saturate(t, lt, g, 2)
	for i := range n {
		req := newReq("POST", target)
		req.Header.Set("X-Order", fmt.Sprint(i))
		send(lt, req)
		waitIdle()
	}
	return g, lt, held
}
