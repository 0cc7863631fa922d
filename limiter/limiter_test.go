package limiter_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/verdict"
)

func waitIdle() { synctest.Wait() }

func TestParseProfile(t *testing.T) {
	tests := []struct {
		give string
		want limiter.Profile
	}{
		{"balanced", limiter.Balanced},
		{"BALANCED", limiter.Balanced},
		{"conservative", limiter.Conservative},
		{"CONSERVATIVE", limiter.Conservative},
		{"Aggressive", limiter.Aggressive},
		{"AGGRESSIVE", limiter.Aggressive},
		{"observe", limiter.Observe},
		{"LEGACY", limiter.Observe},
		{"legacy", limiter.Observe},
		{"off", limiter.Off},
		{" OFF ", limiter.Off},
	}
	for _, tt := range tests {
		got, err := limiter.ParseProfile(tt.give)
		if err != nil || got != tt.want {
			t.Errorf("ParseProfile(%q) = %v, %v; want %v", tt.give, got, err, tt.want)
		}
	}
	for _, give := range []string{"", "fast", "balance", "legacy2"} {
		_, err := limiter.ParseProfile(give)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", give)) {
			t.Errorf("ParseProfile(%q): error %v, want one naming the value", give, err)
		}
	}
	for p := limiter.Balanced; p <= limiter.Off; p++ {
		if got, err := limiter.ParseProfile(p.String()); err != nil || got != p {
			t.Errorf("ParseProfile(%v.String()) = %v, %v", p, got, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		give limiter.Settings
		want string // in the error; "" for valid
	}{
		{limiter.Settings{}, ""},
		{limiter.Settings{Profile: limiter.Off}, ""},
		{limiter.Settings{Floor: 2, Initial: 2, Decrease: 0.5, Increase: 1, RecoveryInterval: time.Second,
			UnlimitedAfter: -1, MaxWaiters: 1, MaxHosts: 1}, ""},
		{limiter.Settings{Profile: 9}, "profile"},
		{limiter.Settings{Floor: -1}, "Floor"},
		{limiter.Settings{Initial: -1}, "Initial"},
		{limiter.Settings{Floor: 4, Initial: 3}, "Initial 3 is below the floor"},
		{limiter.Settings{Decrease: 1}, "Decrease"},
		{limiter.Settings{Decrease: -0.5}, "Decrease"},
		{limiter.Settings{Increase: 2}, "Increase"},
		{limiter.Settings{Increase: -1}, "Increase"},
		{limiter.Settings{RecoveryInterval: -time.Second}, "RecoveryInterval"},
		{limiter.Settings{MaxWaiters: -1}, "MaxWaiters"},
		{limiter.Settings{MaxHosts: -1}, "MaxHosts"},
	}
	for _, tt := range tests {
		err := tt.give.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.give, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, limiter.ErrInvalidSettings)):
			t.Errorf("%+v: error %v, want one matching ErrInvalidSettings about %s", tt.give, err, tt.want)
		}
	}
	defer func() {
		if r := recover(); r == nil || !errors.Is(r.(error), limiter.ErrInvalidSettings) {
			t.Errorf("New with invalid settings: recovered %v, want a panic with the error of Validate", r)
		}
	}()
	limiter.New(nil, limiter.Settings{Decrease: 3})
}

// Off is a pass-through: the base's answers as they are, no hooks.
func TestOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		lt := limiter.New(g, limiter.Settings{Profile: limiter.Off, Hooks: rec.hooks()})
		var done []<-chan result
		for range 20 {
			done = append(done, send(lt, newReq("POST", target)))
		}
		waitIdle()
		for _, c := range g.take() {
			c.backpressure()
		}
		for _, ch := range done {
			if r := <-ch; r.err != nil || r.resp.StatusCode != 503 {
				t.Errorf("got %v, %v", r.resp, r.err)
			}
		}
		done = done[:0]
		for range 20 {
			done = append(done, send(lt, newReq("POST", target)))
		}
		waitIdle()
		calls := g.take()
		if len(calls) != 20 {
			t.Errorf("after backpressure, %d of 20 attempts reached the base", len(calls))
		}
		for _, c := range calls {
			c.ok()
		}
		waitIdle()
		if len(rec.limits)+len(rec.inFlight)+len(rec.waiting) != 0 {
			t.Errorf("hooks called: %+v", &rec)
		}
	})
	resp := answer(nil, 200, "")
	lt := limiter.New(roundTripperFunc(func(*http.Request) (*http.Response, error) { return resp, nil }), limiter.Settings{Profile: limiter.Off})
	if got, err := lt.RoundTrip(newReq("GET", target)); got != resp || err != nil {
		t.Errorf("got %p, %v; want the base's response %p", got, err, resp)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Before any backpressure the limit is out of the way.
func TestUnlimitedUntilBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		lt := limiter.New(g, limiter.Settings{Hooks: rec.hooks()})
		for range 500 {
			send(lt, newReq("GET", target))
		}
		waitIdle()
		calls := g.take()
		if len(calls) != 500 {
			t.Fatalf("%d of 500 attempts reached the base", len(calls))
		}
		if l, n := rec.lastLimit(), rec.lastInFlight(); l != limiter.Unlimited || n != 500 {
			t.Errorf("limit %d, in flight %d; want unlimited, 500", l, n)
		}
		for _, c := range calls {
			c.ok()
		}
		waitIdle()
		if n := rec.lastInFlight(); n != 0 {
			t.Errorf("in flight %d after all answered", n)
		}
	})
}

// One burst of backpressure is one decrease: the answers to attempts that
// started before the decrease are its tail, not new signals.
func TestOneBurstOneDecrease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		lt := limiter.New(g, frozen(rec.hooks()))
		for range 50 {
			send(lt, newReq("POST", target))
		}
		waitIdle()
		for _, c := range g.take() {
			c.backpressure()
		}
		waitIdle()
		// The first refusal saw 49 others in flight; the 49 that followed
		// started before the decrease.
		if want := []int{limiter.Unlimited, 49}; !reflect.DeepEqual(rec.limits, want) {
			t.Fatalf("limits %v, want %v", rec.limits, want)
		}
		// A second burst, started after the decrease, is a second signal,
		// and again only one: 49 in flight against a host that took 49
		// before, the first refusal sees 48 others and sheds a tenth.
		for range 49 {
			send(lt, newReq("POST", target))
		}
		waitIdle()
		for _, c := range g.take() {
			c.backpressure()
		}
		waitIdle()
		if want := []int{limiter.Unlimited, 49, 43}; !reflect.DeepEqual(rec.limits, want) {
			t.Errorf("limits %v, want %v", rec.limits, want)
		}
	})
}

// Attempts beyond the limit wait, and go in the order they came as
// permits return.
func TestWaitersFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		lt := limiter.New(g, frozen(rec.hooks()))
		held := saturate(t, lt, g, 2)
		var done []<-chan result
		for i := range 5 {
			req := newReq("POST", target)
			req.Header.Set("X-Order", fmt.Sprint(i))
			done = append(done, send(lt, req))
			waitIdle()
		}
		if n := len(g.take()); n != 0 || rec.lastWaiting() != 5 {
			t.Fatalf("%d attempts passed the limit, %d waiting; want 0, 5", n, rec.lastWaiting())
		}
		var order []string
		for len(order) < 5 {
			held[0].ok()
			held = held[1:]
			time.Sleep(time.Second)
			waitIdle()
			for _, c := range g.take() {
				order = append(order, c.req.Header.Get("X-Order"))
				held = append(held, c)
			}
		}
		if want := []string{"0", "1", "2", "3", "4"}; !reflect.DeepEqual(order, want) {
			t.Errorf("order %v, want %v", order, want)
		}
		for _, c := range held {
			c.ok()
		}
		for i, ch := range done {
			r := <-ch
			if r.err != nil || r.resp.StatusCode != 200 {
				t.Errorf("waiter %d: %v, %v", i, r.resp, r.err)
			}
		}
		// One permit came back each second, from the first at 0s.
		if want := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}; !reflect.DeepEqual(rec.waits, want) {
			t.Errorf("OnWait got %v, want %v", rec.waits, want)
		}
		if rec.lastWaiting() != 0 || rec.lastInFlight() != 0 {
			t.Errorf("waiting %d, in flight %d at the end", rec.lastWaiting(), rec.lastInFlight())
		}
	})
}

// A full queue refuses at once, with an error that says so and names the
// host, and closes the request's body.
func TestQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		s := frozen(rec.hooks())
		s.MaxWaiters = 2
		lt := limiter.New(g, s)
		held := saturate(t, lt, g, 1)
		send(lt, newReq("POST", target))
		send(lt, newReq("POST", target))
		waitIdle()
		body := &trackedBody{Reader: strings.NewReader("{}")}
		req := newReq("POST", target)
		req.Body = body
		start := time.Now()
		resp, err := lt.RoundTrip(req)
		if resp != nil || !errors.Is(err, limiter.ErrQueueFull) || !errors.Is(err, verdict.ErrRefused) {
			t.Fatalf("got %v, %v; want an error matching ErrQueueFull and verdict.ErrRefused", resp, err)
		}
		if !isRefused(err) {
			t.Errorf("verdict of %v is not Refused", err)
		}
		if !strings.Contains(err.Error(), "sim.test:80") {
			t.Errorf("error %q does not name the host", err)
		}
		if time.Since(start) != 0 || !body.isClosed() || rec.rejects != 1 {
			t.Errorf("took %v, body closed %v, OnReject calls %d; want at once, closed, 1", time.Since(start), body.isClosed(), rec.rejects)
		}
		held[0].ok()
		waitIdle()
		for _, c := range g.take() {
			c.ok()
		}
		waitIdle()
		for _, c := range g.take() {
			c.ok()
		}
		waitIdle()
	})
}

// Cancelling a waiting attempt returns at once, frees its place in the
// queue and closes its body.
func TestCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		s := frozen(rec.hooks())
		s.MaxWaiters = 1
		lt := limiter.New(g, s)
		held := saturate(t, lt, g, 1)

		ctx, cancel := context.WithCancel(context.Background())
		body := &trackedBody{Reader: strings.NewReader("{}")}
		req := newReq("POST", target).WithContext(ctx)
		req.Body = body
		ch := send(lt, req)
		waitIdle()
		if rec.lastWaiting() != 1 {
			t.Fatalf("waiting %d, want 1", rec.lastWaiting())
		}
		time.Sleep(3 * time.Second)
		cancel()
		r := <-ch
		if r.resp != nil || !errors.Is(r.err, context.Canceled) || r.took != 3*time.Second {
			t.Errorf("got %v, %v after %v; want context.Canceled after 3s", r.resp, r.err, r.took)
		}
		if k := verdict.Of(req, nil, r.err).Kind; k != verdict.Canceled {
			t.Errorf("verdict %v, want canceled", k)
		}
		if !body.isClosed() {
			t.Error("body not closed")
		}
		if rec.lastWaiting() != 0 || len(rec.waits) != 1 || rec.waits[0] != 3*time.Second {
			t.Errorf("waiting %d, waits %v; want 0, [3s]", rec.lastWaiting(), rec.waits)
		}
		// Its place is free: another may wait, and gets the permit.
		ch = send(lt, newReq("POST", target))
		waitIdle()
		if rec.lastWaiting() != 1 {
			t.Fatalf("waiting %d, want 1: the queue did not free the place", rec.lastWaiting())
		}
		held[0].ok()
		waitIdle()
		calls := g.take()
		if len(calls) != 1 {
			t.Fatalf("%d attempts reached the base, want the waiter's", len(calls))
		}
		calls[0].ok()
		if r := <-ch; r.err != nil {
			t.Error(r.err)
		}
	})
}

// A waiter whose context has a deadline leaves the queue at the deadline.
func TestDeadlineWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{}
		lt := limiter.New(g, frozen(limiter.Hooks{}))
		held := saturate(t, lt, g, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		r := <-send(lt, newReq("GET", target).WithContext(ctx))
		if !errors.Is(r.err, context.DeadlineExceeded) || r.took != 250*time.Millisecond {
			t.Errorf("got %v after %v", r.err, r.took)
		}
		held[0].ok()
		waitIdle()
	})
}

// Drain operations pass a saturated limiter, whatever context path stands
// before /v2/.
func TestDrainBypasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		s := frozen(rec.hooks())
		s.MaxWaiters = 1
		lt := limiter.New(g, s)
		held := saturate(t, lt, g, 1)
		send(lt, newReq("POST", target)) // the queue is now full
		waitIdle()
		for _, path := range []string{
			"/v2/jobs/2251799813685249/completion",
			"/v2/jobs/2251799813685249/failure",
			"/v2/jobs/2251799813685249/error",
			"/zeebe/v2/user-tasks/2251799813685250/completion/",
		} {
			ch := send(lt, newReq("POST", "http://sim.test"+path))
			waitIdle()
			calls := g.take()
			if len(calls) != 1 {
				t.Fatalf("%s: %d attempts reached the base, want 1", path, len(calls))
			}
			calls[0].backpressure()
			if r := <-ch; r.err != nil || r.took != 0 {
				t.Errorf("%s: %v after %v", path, r.err, r.took)
			}
		}
		// Not drains: refused, the queue being full.
		for _, path := range []string{"/v2/jobs/activation", "/v2/jobs/2251799813685249", "/v2/process-instances/1/cancellation"} {
			if r := <-send(lt, newReq("POST", "http://sim.test"+path)); !errors.Is(r.err, limiter.ErrQueueFull) {
				t.Errorf("%s: %v, want ErrQueueFull", path, r.err)
			}
		}
		if rec.lastLimit() != 1 || rec.lastInFlight() != 1 {
			t.Errorf("limit %d, in flight %d: drains counted", rec.lastLimit(), rec.lastInFlight())
		}
		held[0].ok()
		waitIdle()
		g.take()[0].ok()
		waitIdle()
	})
}

// Observe tracks the limit but never holds an attempt back.
func TestObserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		s := frozen(rec.hooks())
		s.Profile = limiter.Observe
		lt := limiter.New(g, s)
		held := saturate(t, lt, g, 3)
		for range 10 {
			send(lt, newReq("POST", target))
		}
		waitIdle()
		calls := g.take()
		if len(calls) != 10 {
			t.Errorf("%d of 10 attempts beyond the limit reached the base", len(calls))
		}
		if rec.lastLimit() != 3 || rec.lastInFlight() != 13 || len(rec.waits) != 0 {
			t.Errorf("limit %d, in flight %d, waits %v; want 3, 13, none", rec.lastLimit(), rec.lastInFlight(), rec.waits)
		}
		held = append(held, calls...)
		for _, c := range held {
			c.ok()
		}
		waitIdle()
	})
}

// The limit grows with time alone, which lets waiters in even while every
// permit is held by slow attempts; after a quiet period without the limit
// being reached, it gets out of the way.
func TestRecoveryOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		lt := limiter.New(g, limiter.Settings{Increase: 1e-9, RecoveryInterval: time.Second, UnlimitedAfter: 10 * time.Second, Hooks: rec.hooks()})
		held := saturate(t, lt, g, 1)
		start := time.Now()
		ch1 := send(lt, newReq("POST", target))
		ch2 := send(lt, newReq("POST", target))
		waitIdle()
		time.Sleep(time.Second)
		waitIdle()
		calls := g.take()
		if len(calls) != 1 || rec.lastLimit() != 2 {
			t.Fatalf("after 1s: %d attempts let in, limit %d; want 1, 2", len(calls), rec.lastLimit())
		}
		held = append(held, calls...)
		time.Sleep(time.Second)
		waitIdle()
		if calls = g.take(); len(calls) != 1 || rec.lastLimit() != 3 {
			t.Fatalf("after 2s: %d attempts let in, limit %d; want 1, 3", len(calls), rec.lastLimit())
		}
		held = append(held, calls...)
		for _, c := range held {
			c.ok()
		}
		for _, ch := range []<-chan result{ch1, ch2} {
			if r := <-ch; r.err != nil {
				t.Fatal(r.err)
			}
		}
		// The limit was last reached when the second waiter queued, at
		// start; ten seconds after it the next attempt finds it gone.
		time.Sleep(10*time.Second - time.Since(start))
		ch := send(lt, newReq("POST", target))
		waitIdle()
		g.take()[0].ok()
		<-ch
		if rec.lastLimit() != limiter.Unlimited {
			t.Errorf("limit %d after 10s quiet, want unlimited", rec.lastLimit())
		}
	})
}

// Healthy answers raise a limit in use, a permit every 1/Increase rounds.
func TestGrowthFromAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		lt := limiter.New(g, limiter.Settings{Increase: 0.5, RecoveryInterval: time.Hour, UnlimitedAfter: -1, Hooks: rec.hooks()})
		held := saturate(t, lt, g, 2)
		for range 20 {
			send(lt, newReq("POST", target))
		}
		waitIdle()
		// With 2 permits and Increase 0.5, a round of answers adds half a
		// permit, a little less as the limit grows: five answers make the
		// third permit.
		answered := 0
		for rec.lastLimit() < 3 && answered < 10 {
			held[0].ok()
			held = held[1:]
			answered++
			waitIdle()
			held = append(held, g.take()...)
		}
		if rec.lastLimit() != 3 || answered != 5 {
			t.Errorf("limit %d after %d answers; want 3 after 5", rec.lastLimit(), answered)
		}
		for len(held) > 0 {
			held[0].ok()
			held = held[1:]
			waitIdle()
			held = append(held, g.take()...)
		}
	})
}

// Backpressure that would take the limit below its floor holds new
// attempts back for a probe's interval instead of letting the floor's
// permits be refused one after another.
func TestFloorPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		lt := limiter.New(g, limiter.Settings{RecoveryInterval: time.Second, UnlimitedAfter: -1, Hooks: rec.hooks()})
		saturate(t, lt, g, 1)[0].ok()
		// Refused with nothing else in flight: the decrease would go below
		// the floor.
		ch := send(lt, newReq("POST", target))
		waitIdle()
		g.take()[0].backpressure()
		<-ch
		start := time.Now()
		ch = send(lt, newReq("POST", target))
		waitIdle()
		if n := len(g.take()); n != 0 {
			t.Fatalf("%d attempts let in during the pause", n)
		}
		// No answer was measured: the pause is RecoveryInterval.
		time.Sleep(time.Second)
		waitIdle()
		calls := g.take()
		if len(calls) != 1 || time.Since(start) != time.Second {
			t.Fatalf("%d attempts let in after %v", len(calls), time.Since(start))
		}
		calls[0].ok()
		if r := <-ch; r.err != nil || r.took != time.Second {
			t.Errorf("%v after %v", r.err, r.took)
		}
	})
}

// A base that panics does not take a permit with it.
func TestPanicReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		lt := limiter.New(g, frozen(rec.hooks()))
		held := saturate(t, lt, g, 1)
		held[0].answer <- func() (*http.Response, error) { panic("boom") }
		waitIdle()
		if rec.lastInFlight() != 0 {
			t.Errorf("in flight %d after the panic", rec.lastInFlight())
		}
		ch := send(lt, newReq("GET", target))
		waitIdle()
		g.take()[0].ok()
		if r := <-ch; r.err != nil {
			t.Error(r.err)
		}
	})
}

// The request is never modified, and what the base returns comes back as
// it is.
func TestRequestUntouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("connection reset")
		lt := limiter.New(roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if req.URL.Path == "/fail" {
				return nil, boom
			}
			return answer(req, 201, ""), nil
		}), limiter.Settings{})
		req := newReq("PUT", "http://sim.test/ok")
		req.Header.Set("A", "b")
		before := *req
		resp, err := lt.RoundTrip(req)
		if err != nil || resp.StatusCode != 201 || resp.Request != req {
			t.Errorf("got %v, %v", resp, err)
		}
		if !reflect.DeepEqual(before, *req) {
			t.Error("request modified")
		}
		if resp, err := lt.RoundTrip(newReq("GET", "http://sim.test/fail")); resp != nil || err != boom {
			t.Errorf("got %v, %v; want the base's error as it is", resp, err)
		}
	})
}

// Each host has its own limit; beyond MaxHosts idle hosts are forgotten,
// and when none is idle the new host passes unlimited.
func TestHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		g := &gate{}
		s := frozen(rec.hooks())
		s.MaxHosts = 2
		lt := limiter.New(g, s)
		heldA := saturate(t, lt, g, 1) // a limit of 1 on sim.test
		// Another host is not held back by sim.test's limit.
		for range 3 {
			send(lt, newReq("GET", "https://other.test/x"))
		}
		waitIdle()
		heldB := g.take()
		if len(heldB) != 3 {
			t.Fatalf("%d of 3 attempts to other.test passed", len(heldB))
		}
		// Both hosts busy: a third is not tracked but not refused either.
		ch := send(lt, newReq("GET", "http://third.test/"))
		waitIdle()
		c := g.take()
		if len(c) != 1 || rec.hosts["third.test:80"] {
			t.Fatalf("third host: %d attempts passed, tracked %v", len(c), rec.hosts["third.test:80"])
		}
		c[0].ok()
		<-ch
		// other.test goes idle and is forgotten for third.test.
		for _, c := range heldB {
			c.ok()
		}
		waitIdle()
		ch = send(lt, newReq("GET", "http://third.test/"))
		waitIdle()
		g.take()[0].ok()
		<-ch
		if !rec.hosts["third.test:80"] || !rec.hosts["other.test:443"] {
			t.Errorf("hosts seen by the hooks: %v", rec.hosts)
		}
		heldA[0].ok()
		waitIdle()
	})
}

// Hundreds of goroutines, backpressure, cancellations and several hosts at
// once, for the race detector; at the end nothing is in flight or waiting.
func TestConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		inFlight, waiting := map[string]int{}, map[string]int{}
		hooks := limiter.Hooks{
			OnInFlight: func(h string, n int) { mu.Lock(); inFlight[h] = n; mu.Unlock() },
			OnWaiting:  func(h string, n int) { mu.Lock(); waiting[h] = n; mu.Unlock() },
			OnLimit:    func(string, int) {},
			OnWait:     func(string, time.Duration) {},
			OnReject:   func(string) {},
		}
		var base sync.Mutex
		busy := map[string]int{}
		lt := limiter.New(roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			base.Lock()
			full := busy[req.URL.Host] >= 10
			if !full {
				busy[req.URL.Host]++
			}
			base.Unlock()
			if full {
				return answer(req, 503, problem), nil
			}
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			base.Lock()
			busy[req.URL.Host]--
			base.Unlock()
			return answer(req, 200, ""), nil
		}), limiter.Settings{MaxWaiters: 50, Hooks: hooks})
		var wg sync.WaitGroup
		for i := range 300 {
			wg.Go(func() {
				host := fmt.Sprintf("http://h%d.test/v2/process-instances", i%3)
				for j := range 50 {
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(10+rand.IntN(200))*time.Millisecond)
					resp, err := lt.RoundTrip(newReq("POST", host).WithContext(ctx))
					cancel()
					if (resp == nil) == (err == nil) {
						t.Errorf("request %d/%d: response %v and error %v", i, j, resp, err)
					}
					if resp != nil {
						resp.Body.Close()
					}
					if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, limiter.ErrQueueFull) {
						t.Errorf("request %d/%d: %v", i, j, err)
					}
				}
			})
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for h := range inFlight {
			if inFlight[h] != 0 || waiting[h] != 0 {
				t.Errorf("%s: in flight %d, waiting %d at the end", h, inFlight[h], waiting[h])
			}
		}
		if len(inFlight) != 3 {
			t.Errorf("hosts %v", inFlight)
		}
	})
}

// Waiters come before a newcomer arriving as time raises the limit. (Under
// synctest the timer runs first at a shared instant; acquire hands the new
// permits to the queue itself too, so the order holds whoever notices
// first.)
func TestTimeGrowthServesWaitersFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{}
		lt := limiter.New(g, limiter.Settings{Increase: 1e-9, RecoveryInterval: time.Second, UnlimitedAfter: -1})
		held := saturate(t, lt, g, 1)
		first := newReq("POST", target)
		first.Header.Set("X-Order", "waiter")
		send(lt, first)
		waitIdle()
		// The newcomer arrives at the instant the limit grows.
		time.Sleep(time.Second - time.Nanosecond)
		second := newReq("POST", target)
		second.Header.Set("X-Order", "newcomer")
		time.Sleep(time.Nanosecond)
		send(lt, second)
		waitIdle()
		calls := g.take()
		if len(calls) != 1 || calls[0].req.Header.Get("X-Order") != "waiter" {
			var got []string
			for _, c := range calls {
				got = append(got, c.req.Header.Get("X-Order"))
			}
			t.Fatalf("let in at 1s: %v, want [waiter]", got)
		}
		held = append(held, calls...)
		time.Sleep(time.Second)
		waitIdle()
		held = append(held, g.take()...)
		if len(held) != 3 {
			t.Errorf("%d in flight at 2s, want 3", len(held))
		}
		for _, c := range held {
			c.ok()
		}
		waitIdle()
	})
}

type closer struct {
	roundTripperFunc
	closed int
}

func (c *closer) CloseIdleConnections() { c.closed++ }

// http.Client.CloseIdleConnections reaches the base through the layer, in
// every profile.
func TestCloseIdleConnections(t *testing.T) {
	for _, p := range []limiter.Profile{limiter.Balanced, limiter.Off} {
		base := &closer{roundTripperFunc: func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") }}
		client := &http.Client{Transport: limiter.New(base, limiter.Settings{Profile: p})}
		client.CloseIdleConnections()
		if base.closed != 1 {
			t.Errorf("%v: base closed %d times, want 1", p, base.closed)
		}
	}
	limiter.New(roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil }), limiter.Settings{}).CloseIdleConnections()
}
