package limiter_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/retry"
	"github.com/ebb-go/ebb/verdict"
)

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
		want string // the error's text after ErrInvalidSettings; "" for valid
	}{
		{limiter.Settings{}, ""},
		{limiter.Settings{Profile: limiter.Off}, ""},
		{limiter.Settings{Floor: 2, Initial: 2, Decrease: 1, Increase: 1, RecoveryInterval: time.Second,
			UnlimitedAfter: -1, MaxWaiters: 1, MaxHosts: 1}, ""},
		{limiter.Settings{Profile: 9}, "Profile = Profile(9): is not a known profile"},
		{limiter.Settings{Floor: -1}, "Floor = -1: must not be negative"},
		{limiter.Settings{Initial: -1}, "Initial = -1: must not be negative"},
		{limiter.Settings{Floor: 4, Initial: 3}, "Initial = 3: must not be below Floor (4)"},
		{limiter.Settings{Decrease: 1.5}, "Decrease = 1.5: must be in (0, 1]"},
		{limiter.Settings{Decrease: -0.5}, "Decrease = -0.5: must be in (0, 1]"},
		{limiter.Settings{Increase: 2}, "Increase = 2: must be in (0, 1]"},
		{limiter.Settings{Increase: -1}, "Increase = -1: must be in (0, 1]"},
		{limiter.Settings{RecoveryInterval: -time.Second}, "RecoveryInterval = -1s: must not be negative"},
		{limiter.Settings{MaxWaiters: -1}, "MaxWaiters = -1: must not be negative"},
		{limiter.Settings{MaxHosts: -1}, "MaxHosts = -1: must not be negative"},
	}
	for _, tt := range tests {
		err := tt.give.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.give, err)
		case tt.want != "" && (err == nil || err.Error() != limiter.ErrInvalidSettings.Error()+": "+tt.want || !errors.Is(err, limiter.ErrInvalidSettings)):
			t.Errorf("%+v: error %v, want %q matching ErrInvalidSettings", tt.give, err, tt.want)
		}
	}
	defer func() {
		if r := recover(); r == nil || !errors.Is(r.(error), limiter.ErrInvalidSettings) {
			t.Errorf("New with invalid settings: recovered %v, want a panic with the error of Validate", r)
		}
	}()
	limiter.New(nil, limiter.Settings{Decrease: 3})
}

// Every float setting refuses NaN and both infinities. The fields are found
// by reflection, so a float setting added later is covered too.
func TestValidateNonFinite(t *testing.T) {
	typ := reflect.TypeFor[limiter.Settings]()
	fields := 0
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() != reflect.Float64 {
			continue
		}
		fields++
		for _, give := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			var s limiter.Settings
			reflect.ValueOf(&s).Elem().Field(i).SetFloat(give)
			err := s.Validate()
			want := fmt.Sprintf("%v: %s = %v: ", limiter.ErrInvalidSettings, f.Name, give)
			if !errors.Is(err, limiter.ErrInvalidSettings) || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s = %v: error %v, want one starting %q", f.Name, give, err, want)
			}
		}
	}
	if fields == 0 {
		t.Fatal("no float setting found")
	}
}

// Settings reports the numbers in force, the profile's where none was set.
func TestSettings(t *testing.T) {
	tests := []struct {
		give, want limiter.Settings
	}{
		{limiter.Settings{}, limiter.Settings{Floor: 1, Decrease: 1, Increase: 0.02, RecoveryInterval: time.Second,
			UnlimitedAfter: 30 * time.Second, MaxWaiters: 1024, MaxHosts: 1024}},
		{limiter.Settings{Profile: limiter.Conservative, MaxWaiters: 7}, limiter.Settings{Profile: limiter.Conservative,
			Floor: 1, Decrease: 0.9, Increase: 0.01, RecoveryInterval: 2 * time.Second, UnlimitedAfter: time.Minute,
			MaxWaiters: 7, MaxHosts: 1024}},
		{limiter.Settings{Profile: limiter.Aggressive, UnlimitedAfter: -1, Initial: 4}, limiter.Settings{Profile: limiter.Aggressive,
			Floor: 1, Initial: 4, Decrease: 1, Increase: 0.04, RecoveryInterval: 500 * time.Millisecond, UnlimitedAfter: -1,
			MaxWaiters: 1024, MaxHosts: 1024}},
	}
	for _, tt := range tests {
		if got := limiter.New(nil, tt.give).Settings(); got != tt.want {
			t.Errorf("New(%+v).Settings() = %+v, want %+v", tt.give, got, tt.want)
		}
	}
}

// Off is a pass-through: the base's answers as they are, no state, no hooks.
func TestOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev events
		g := &testkit.Gate{}
		lt := limiter.New(g, limiter.Settings{Profile: limiter.Off}, limiter.WithHooks(ev.hooks()))
		for round := range 2 {
			var done []<-chan result
			for range 20 {
				done = append(done, send(lt, newReq("POST", target)))
			}
			waitIdle()
			calls := g.Take()
			if len(calls) != 20 {
				t.Errorf("round %d: %d of 20 attempts reached the base", round, len(calls))
			}
			answerAll(calls, testkit.ResourceExhausted)
			for _, ch := range done {
				if r := <-ch; r.err != nil || r.resp.StatusCode != 503 {
					t.Errorf("got %v, %v", r.resp, r.err)
				}
			}
		}
		if st := lt.Stats(); len(st) != 0 {
			t.Errorf("Stats() = %+v, want none", st)
		}
		if waits, rejects := ev.get(); len(waits)+rejects != 0 {
			t.Errorf("hooks called: %v, %d", waits, rejects)
		}
	})
	want := testkit.Response(nil, 200, "", "")
	lt := limiter.New(testkit.Func(func(*http.Request) (*http.Response, error) { return want, nil }), limiter.Settings{Profile: limiter.Off})
	if got, err := lt.RoundTrip(newReq("GET", target)); got != want || err != nil {
		t.Errorf("got %p, %v; want the base's response %p", got, err, want)
	}
}

// Before any backpressure the limit is out of the way.
func TestUnlimitedUntilBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		lt := limiter.New(g, limiter.Settings{})
		for range 500 {
			send(lt, newReq("GET", target))
		}
		waitIdle()
		calls := g.Take()
		if len(calls) != 500 {
			t.Fatalf("%d of 500 attempts reached the base", len(calls))
		}
		if s := stats(t, lt); s != (limiter.HostStats{Host: label, Limit: limiter.Unlimited, InFlight: 500}) {
			t.Errorf("Stats %+v; want unlimited, 500 in flight", s)
		}
		answerAll(calls, testkit.OK)
		waitIdle()
		if s := stats(t, lt); s.InFlight != 0 {
			t.Errorf("in flight %d after all answered", s.InFlight)
		}
	})
}

// A burst of refusals teaches the limit how many attempts the host took:
// the first refusal sets it to the other attempts in flight, and each
// refusal of an attempt sent before it takes one off, since the host did
// not take that one either.
func TestBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		lt := limiter.New(g, frozen())
		for range 50 {
			send(lt, newReq("POST", target))
		}
		waitIdle()
		calls := g.Take()
		calls[0].Answer(testkit.ResourceExhausted)
		waitIdle()
		if s := stats(t, lt); s.Limit != 49 {
			t.Fatalf("limit %d after the first refusal, want 49", s.Limit)
		}
		// The host took 10 of the 50: 39 more refusals.
		answerAll(calls[1:40], testkit.ResourceExhausted)
		waitIdle()
		if s := stats(t, lt); s.Limit != 10 || s.InFlight != 10 {
			t.Fatalf("%+v after the burst, want a limit of 10, 10 in flight", s)
		}
		answerAll(calls[40:], testkit.OK)
		waitIdle()
		if s := stats(t, lt); s.Limit != 10 {
			t.Errorf("limit %d once the host answered, want 10", s.Limit)
		}
	})
}

// A refusal within the level the host accepted means another client took
// room: the limit gives back that room, and no more (Decrease 1), or
// Decrease times the attempts still in flight.
func TestRoomTaken(t *testing.T) {
	for _, tt := range []struct {
		decrease float64
		want     int
	}{{1, 9}, {0.5, 4}} {
		synctest.Test(t, func(t *testing.T) {
			g := &testkit.Gate{}
			s := frozen()
			s.Decrease = tt.decrease
			lt := limiter.New(g, s)
			held := saturate(t, lt, g, 10) // limit 10, the host took 10
			for range 20 {
				send(lt, newReq("POST", target))
			}
			waitIdle()
			// The ten are answered; ten sent since take their place.
			answerAll(held, testkit.OK)
			waitIdle()
			held = g.Take()
			if len(held) != 10 {
				t.Fatalf("%d attempts let in, want 10", len(held))
			}
			// Another client took a slot: one of the ten is refused.
			held[0].Answer(testkit.ResourceExhausted)
			waitIdle()
			if s := stats(t, lt); s.Limit != tt.want || s.InFlight != 9 {
				t.Errorf("Decrease %v: %+v after room was taken, want a limit of %d, 9 in flight", tt.decrease, s, tt.want)
			}
			answerAll(held[1:], testkit.OK)
			for range 4 {
				waitIdle()
				answerAll(g.Take(), testkit.OK)
			}
			waitIdle()
		})
	}
}

// Attempts beyond the limit wait, and go in the order they came as
// permits return.
func TestWaitersFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev events
		g := &testkit.Gate{}
		lt := limiter.New(g, frozen(), limiter.WithHooks(ev.hooks()))
		held := saturate(t, lt, g, 2)
		var done []<-chan result
		for i := range 5 {
			req := newReq("POST", target)
			req.Header.Set("X-Order", fmt.Sprint(i))
			done = append(done, send(lt, req))
			waitIdle()
		}
		if n, s := len(g.Take()), stats(t, lt); n != 0 || s.Waiting != 5 || s.InFlight != 2 {
			t.Fatalf("%d attempts passed the limit, %+v; want 0, 5 waiting, 2 in flight", n, s)
		}
		var order []string
		for len(order) < 5 {
			held[0].Answer(testkit.OK)
			held = held[1:]
			time.Sleep(time.Second)
			waitIdle()
			for _, c := range g.Take() {
				order = append(order, c.Req.Header.Get("X-Order"))
				held = append(held, c)
			}
		}
		if want := []string{"0", "1", "2", "3", "4"}; !reflect.DeepEqual(order, want) {
			t.Errorf("order %v, want %v", order, want)
		}
		answerAll(held, testkit.OK)
		for i, ch := range done {
			r := <-ch
			if r.err != nil || r.resp.StatusCode != 200 {
				t.Errorf("waiter %d: %v, %v", i, r.resp, r.err)
			}
		}
		// One permit came back each second, from the first at 0s.
		waits, _ := ev.get()
		if want := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}; !reflect.DeepEqual(waits, want) {
			t.Errorf("OnWait got %v, want %v", waits, want)
		}
		if s := stats(t, lt); s.Waiting != 0 || s.InFlight != 0 {
			t.Errorf("%+v at the end", s)
		}
	})
}

// A full queue refuses at once, with an error that says so, names the host
// and says nothing was sent, and closes the request's body.
func TestQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev events
		g := &testkit.Gate{}
		s := frozen()
		s.MaxWaiters = 2
		lt := limiter.New(g, s, limiter.WithHooks(ev.hooks()))
		held := saturate(t, lt, g, 1)
		send(lt, newReq("POST", target))
		send(lt, newReq("POST", target))
		waitIdle()
		body := testkit.NewBody("{}")
		req := newReq("POST", target)
		req.Body = body
		start := time.Now()
		resp, err := lt.RoundTrip(req)
		for _, want := range []error{limiter.ErrQueueFull, verdict.ErrRefused, verdict.ErrNotSent} {
			if resp != nil || !errors.Is(err, want) {
				t.Errorf("got %v, %v; want an error matching %v", resp, err, want)
			}
		}
		if a := verdict.Of(req, nil, err); a.Kind != verdict.Refused || !a.NotSent {
			t.Errorf("verdict of %v is %+v, want Refused, not sent", err, a)
		}
		if !strings.Contains(err.Error(), "sim.test:80") {
			t.Errorf("error %q does not name the host", err)
		}
		if waits, rejects := ev.get(); time.Since(start) != 0 || !body.Closed() || rejects != 1 || len(waits) != 0 {
			t.Errorf("took %v, body closed %v, OnReject calls %d, waits %v; want at once, closed, 1, none",
				time.Since(start), body.Closed(), rejects, waits)
		}
		held[0].Answer(testkit.OK)
		for range 2 {
			waitIdle()
			answerAll(g.Take(), testkit.OK)
		}
		waitIdle()
	})
}

// Cancelling a waiting attempt returns at once, frees its place in the
// queue and closes its body; the error says nothing was sent.
func TestCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev events
		g := &testkit.Gate{}
		s := frozen()
		s.MaxWaiters = 1
		lt := limiter.New(g, s, limiter.WithHooks(ev.hooks()))
		held := saturate(t, lt, g, 1)

		ctx, cancel := context.WithCancel(context.Background())
		body := testkit.NewBody("{}")
		req := newReq("POST", target).WithContext(ctx)
		req.Body = body
		ch := send(lt, req)
		waitIdle()
		if s := stats(t, lt); s.Waiting != 1 {
			t.Fatalf("waiting %d, want 1", s.Waiting)
		}
		time.Sleep(3 * time.Second)
		cancel()
		r := <-ch
		if r.resp != nil || !errors.Is(r.err, context.Canceled) || !errors.Is(r.err, verdict.ErrNotSent) || r.took != 3*time.Second {
			t.Errorf("got %v, %v after %v; want context.Canceled and ErrNotSent after 3s", r.resp, r.err, r.took)
		}
		if a := verdict.Of(req, nil, r.err); a.Kind != verdict.Canceled || !a.NotSent {
			t.Errorf("verdict %+v, want canceled, not sent", a)
		}
		if !body.Closed() {
			t.Error("body not closed")
		}
		if waits, _ := ev.get(); stats(t, lt).Waiting != 0 || !reflect.DeepEqual(waits, []time.Duration{3 * time.Second}) {
			t.Errorf("waiting %d, waits %v; want 0, [3s]", stats(t, lt).Waiting, waits)
		}
		// Its place is free: another may wait, and gets the permit.
		ch = send(lt, newReq("POST", target))
		waitIdle()
		if s := stats(t, lt); s.Waiting != 1 {
			t.Fatalf("waiting %d, want 1: the queue did not free the place", s.Waiting)
		}
		held[0].Answer(testkit.OK)
		waitIdle()
		calls := g.Take()
		if len(calls) != 1 {
			t.Fatalf("%d attempts reached the base, want the waiter's", len(calls))
		}
		calls[0].Answer(testkit.OK)
		if r := <-ch; r.err != nil {
			t.Error(r.err)
		}
	})
}

// A wait ended with a cause (an attempt's time bound, as retry sets it)
// fails with that cause, not a bare context.Canceled that would read as
// the caller's doing, and still says nothing was sent.
func TestWaitEndsWithCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		lt := limiter.New(g, frozen())
		held := saturate(t, lt, g, 1)

		bound := fmt.Errorf("attempt bound: %w", context.DeadlineExceeded)
		ctx, cancel := context.WithCancelCause(context.Background())
		req := newReq("POST", target)
		ch := send(lt, req.WithContext(ctx))
		waitIdle()
		cancel(bound)
		r := <-ch
		if !errors.Is(r.err, bound) || errors.Is(r.err, context.Canceled) || !errors.Is(r.err, verdict.ErrNotSent) {
			t.Errorf("got %v; want the cause and ErrNotSent, not context.Canceled", r.err)
		}
		if msg := r.err.Error(); msg != "limiter: gave up waiting 0s for a permit for sim.test:80, nothing sent: attempt bound: context deadline exceeded" {
			t.Errorf("error says %q", msg)
		}
		if msg := limiter.ErrQueueFull.Error(); msg != "limiter: wait queue full, nothing sent" {
			t.Errorf("ErrQueueFull says %q", msg)
		}
		// The caller's own context is alive: retry may send it again.
		if a := verdict.Of(req, nil, r.err); a.Kind != verdict.TransportError || !a.NotSent {
			t.Errorf("verdict %+v, want a transport error, not sent", a)
		}
		held[0].Answer(testkit.OK)
	})
}

// A waiter whose context has a deadline leaves the queue at the deadline,
// with an error saying it was not sent. An attempt whose deadline passes
// once it was handed on gets next's error, which does not say so.
func TestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		lt := limiter.New(g, frozen())
		held := saturate(t, lt, g, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		r := <-send(lt, newReq("GET", target).WithContext(ctx))
		if !errors.Is(r.err, context.DeadlineExceeded) || !errors.Is(r.err, verdict.ErrNotSent) || r.took != 250*time.Millisecond {
			t.Errorf("waiting: got %v after %v; want DeadlineExceeded and ErrNotSent after 250ms", r.err, r.took)
		}
		held[0].Answer(testkit.OK)
		waitIdle()

		ctx, cancel = context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		ch := send(lt, newReq("GET", target).WithContext(ctx))
		waitIdle()
		if n := len(g.Take()); n != 1 {
			t.Fatalf("%d attempts reached the base, want 1", n)
		}
		r = <-ch
		if !errors.Is(r.err, context.DeadlineExceeded) || errors.Is(r.err, verdict.ErrNotSent) {
			t.Errorf("in flight: got %v; want DeadlineExceeded, not ErrNotSent", r.err)
		}
		if s := stats(t, lt); s.InFlight != 0 {
			t.Errorf("in flight %d at the end", s.InFlight)
		}
	})
}

// Drain operations pass a saturated limiter, whatever context path stands
// before /v2/.
func TestDrainBypasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		s := frozen()
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
			calls := g.Take()
			if len(calls) != 1 {
				t.Fatalf("%s: %d attempts reached the base, want 1", path, len(calls))
			}
			calls[0].Answer(testkit.ResourceExhausted)
			if r := <-ch; r.err != nil || r.took != 0 {
				t.Errorf("%s: %v after %v", path, r.err, r.took)
			}
		}
		// Not drains: refused, the queue being full.
		for _, path := range []string{"/v2/jobs/2251799813685249", "/v2/process-instances/1/cancellation"} {
			if r := <-send(lt, newReq("POST", "http://sim.test"+path)); !errors.Is(r.err, limiter.ErrQueueFull) {
				t.Errorf("%s: %v, want ErrQueueFull", path, r.err)
			}
		}
		if s := stats(t, lt); s.Limit != 1 || s.InFlight != 1 {
			t.Errorf("%+v: drains counted", s)
		}
		held[0].Answer(testkit.OK)
		waitIdle()
		g.Take()[0].Answer(testkit.OK)
		waitIdle()
	})
}

// Observe tracks the limit but never holds an attempt back.
func TestObserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev events
		g := &testkit.Gate{}
		s := frozen()
		s.Profile = limiter.Observe
		lt := limiter.New(g, s, limiter.WithHooks(ev.hooks()))
		held := saturate(t, lt, g, 3)
		for range 10 {
			send(lt, newReq("POST", target))
		}
		waitIdle()
		calls := g.Take()
		if len(calls) != 10 {
			t.Errorf("%d of 10 attempts beyond the limit reached the base", len(calls))
		}
		if s, waits := stats(t, lt), ev.waits; s.Limit != 3 || s.InFlight != 13 || len(waits) != 0 {
			t.Errorf("%+v, waits %v; want limit 3, 13 in flight, no wait", s, waits)
		}
		answerAll(append(held, calls...), testkit.OK)
		waitIdle()
	})
}

// The limit grows with time alone, which lets waiters in even while every
// permit is held by slow attempts; after a quiet period without the limit
// being reached, it gets out of the way.
func TestRecoveryOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		lt := limiter.New(g, limiter.Settings{Increase: 1e-9, RecoveryInterval: time.Second, UnlimitedAfter: 10 * time.Second})
		held := saturate(t, lt, g, 1)
		start := time.Now()
		ch1 := send(lt, newReq("POST", target))
		ch2 := send(lt, newReq("POST", target))
		waitIdle()
		time.Sleep(time.Second)
		waitIdle()
		calls := g.Take()
		if s := stats(t, lt); len(calls) != 1 || s.Limit != 2 {
			t.Fatalf("after 1s: %d attempts let in, limit %d; want 1, 2", len(calls), s.Limit)
		}
		held = append(held, calls...)
		time.Sleep(time.Second)
		waitIdle()
		if calls, s := g.Take(), stats(t, lt); len(calls) != 1 || s.Limit != 3 {
			t.Fatalf("after 2s: %d attempts let in, limit %d; want 1, 3", len(calls), s.Limit)
		} else {
			held = append(held, calls...)
		}
		answerAll(held, testkit.OK)
		for _, ch := range []<-chan result{ch1, ch2} {
			if r := <-ch; r.err != nil {
				t.Fatal(r.err)
			}
		}
		// The limit was last reached when the second waiter queued, at
		// start; ten seconds after it, it is out of the way.
		time.Sleep(10*time.Second - time.Since(start) - time.Nanosecond)
		if s := stats(t, lt); s.Limit == limiter.Unlimited {
			t.Fatalf("limit out of the way before 10s quiet")
		}
		time.Sleep(time.Nanosecond)
		if s := stats(t, lt); s.Limit != limiter.Unlimited {
			t.Errorf("limit %d after 10s quiet, want unlimited", s.Limit)
		}
	})
}

// Healthy answers raise a limit in use: a probe one permit above the
// level the host accepts, at a pace set by Increase and the backlog; a
// probe the host accepts for half a round is followed at once by the next.
func TestProbing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		lt := limiter.New(g, limiter.Settings{Increase: 1.0 / 64, RecoveryInterval: time.Hour, UnlimitedAfter: -1})
		held := saturate(t, lt, g, 2)
		// 200 waiting for 2 permits: a backlog long enough (over 22 per
		// permit) to probe at the highest pace, 32 times Increase, half a
		// permit a round.
		for range 200 {
			send(lt, newReq("POST", target))
		}
		waitIdle()
		var limits []int
		for range 12 {
			held[0].Answer(testkit.OK)
			held = held[1:]
			waitIdle()
			held = append(held, g.Take()...)
			limits = append(limits, stats(t, lt).Limit)
		}
		// Five answers to reach the probe (3), a little more than two
		// rounds; it is accepted for half a round (2 answers), then the
		// next probe (4, two answers), and the next (5, three answers).
		want := []int{2, 2, 2, 2, 3, 3, 4, 4, 5, 5, 5, 6}
		if !reflect.DeepEqual(limits, want) {
			t.Errorf("limits %v, want %v", limits, want)
		}
		// A refused probe takes the limit back to the attempts the host
		// accepts.
		held[0].Answer(testkit.ResourceExhausted)
		held = held[1:]
		waitIdle()
		if s := stats(t, lt); s.Limit != 5 || s.InFlight != 5 {
			t.Errorf("%+v after a refused probe, want 5, 5 in flight", s)
		}
		for len(held) > 0 {
			held[0].Answer(testkit.OK)
			held = held[1:]
			waitIdle()
			held = append(held, g.Take()...)
		}
	})
}

// Backpressure that would take the limit below its floor holds waiters
// back for a probe's interval, instead of letting the floor's permit be
// refused from waiter to waiter. An attempt that finds nothing in flight
// and nobody waiting is not held back: a client alone on a host waits what
// its retries say.
func TestFloorPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		lt := limiter.New(g, limiter.Settings{RecoveryInterval: time.Second, UnlimitedAfter: -1})
		saturate(t, lt, g, 1)[0].Answer(testkit.OK)
		waitIdle()
		// Refused with nothing else in flight and one waiting: the
		// decrease would go below the floor.
		ch := send(lt, newReq("POST", target))
		waitIdle()
		waiter := send(lt, newReq("POST", target))
		waitIdle()
		g.Take()[0].Answer(testkit.ResourceExhausted)
		<-ch
		start := time.Now()
		waitIdle()
		if n := len(g.Take()); n != 0 {
			t.Fatalf("%d attempts let in during the pause", n)
		}
		// No answer was measured: the pause is RecoveryInterval.
		time.Sleep(time.Second)
		waitIdle()
		calls := g.Take()
		if len(calls) != 1 || time.Since(start) != time.Second {
			t.Fatalf("%d attempts let in after %v", len(calls), time.Since(start))
		}
		calls[0].Answer(testkit.OK)
		if r := <-waiter; r.err != nil || r.took != time.Second {
			t.Errorf("waiter: %v after %v", r.err, r.took)
		}
		// Alone: refused, then sent again at once.
		ch = send(lt, newReq("POST", target))
		waitIdle()
		g.Take()[0].Answer(testkit.ResourceExhausted)
		<-ch
		ch = send(lt, newReq("POST", target))
		waitIdle()
		calls = g.Take()
		if len(calls) != 1 {
			t.Fatalf("alone after a refusal: %d attempts let in, want 1 at once", len(calls))
		}
		calls[0].Answer(testkit.OK)
		<-ch
	})
}

// A base that panics does not take a permit with it.
func TestPanicReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		lt := limiter.New(g, frozen())
		held := saturate(t, lt, g, 1)
		held[0].Answer(func(*http.Request) (*http.Response, error) { panic("boom") })
		waitIdle()
		if s := stats(t, lt); s.InFlight != 0 {
			t.Errorf("in flight %d after the panic", s.InFlight)
		}
		ch := send(lt, newReq("GET", target))
		waitIdle()
		g.Take()[0].Answer(testkit.OK)
		if r := <-ch; r.err != nil {
			t.Error(r.err)
		}
	})
}

// A hook that panics reaches the caller, and leaves nothing behind: no
// permit held, no place in the queue, no body open (issue 9, item 4).
func TestHookPanicReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		s := frozen()
		s.MaxWaiters = 1
		lt := limiter.New(g, s, limiter.WithHooks(limiter.Hooks{
			OnWait:   func(string, time.Duration) { panic("OnWait") },
			OnReject: func(string) { panic("OnReject") },
		}))
		held := saturate(t, lt, g, 1)[0]
		for i := range 3 {
			waiting := testkit.NewBody("{}")
			wreq := newReq("POST", target)
			wreq.Body = waiting
			ch := send(lt, wreq) // waits for held's permit
			waitIdle()
			// The queue is full: OnReject panics once the body is closed.
			body := testkit.NewBody("{}")
			req := newReq("POST", target)
			req.Body = body
			if r := <-send(lt, req); r.err == nil || r.err.Error() != "panic: OnReject" || !body.Closed() {
				t.Errorf("%d, queue full: %v, body closed %v; want the hook's panic, closed", i, r.err, body.Closed())
			}
			// The waiter gets the permit; OnWait panics before it is sent.
			held.Answer(testkit.OK)
			if r := <-ch; r.err == nil || r.err.Error() != "panic: OnWait" || !waiting.Closed() {
				t.Fatalf("%d, waiter: %v, body closed %v; want the hook's panic, closed", i, r.err, waiting.Closed())
			}
			if st := stats(t, lt); st.InFlight != 0 || st.Waiting != 0 {
				t.Fatalf("after panic %d: %+v, want nothing in flight or waiting", i, st)
			}
			// The permit is free: the next attempt takes it at once.
			send(lt, newReq("POST", target))
			waitIdle()
			calls := g.Take()
			if len(calls) != 1 {
				t.Fatalf("after panic %d: %d attempts reached the base, want 1", i, len(calls))
			}
			held = calls[0]
		}
		held.Answer(testkit.OK)
		waitIdle()
	})
}

// The request is never modified, and what the base returns comes back as
// it is.
func TestRequestUntouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("connection reset")
		lt := limiter.New(testkit.Func(func(req *http.Request) (*http.Response, error) {
			if req.URL.Path == "/fail" {
				return nil, boom
			}
			return testkit.Response(req, 201, "", ""), nil
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

// Each host has its own limit. Beyond MaxHosts, hosts whose limit is out of
// the way and that are idle are forgotten; when none is, the new host
// passes unlimited.
func TestHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		s := frozen()
		s.MaxHosts = 2
		lt := limiter.New(g, s)
		heldA := saturate(t, lt, g, 1) // a limit of 1 on sim.test
		// Another host is not held back by sim.test's limit.
		for range 3 {
			send(lt, newReq("GET", "https://other.test/x"))
		}
		waitIdle()
		heldB := g.Take()
		if len(heldB) != 3 {
			t.Fatalf("%d of 3 attempts to other.test passed", len(heldB))
		}
		// Both hosts busy: a third is not tracked but not refused either.
		ch := send(lt, newReq("GET", "http://third.test/"))
		waitIdle()
		c := g.Take()
		if _, tracked := statsOf(lt, "third.test:80"); len(c) != 1 || tracked {
			t.Fatalf("third host: %d attempts passed, tracked %v", len(c), tracked)
		}
		c[0].Answer(testkit.OK)
		<-ch
		// other.test goes idle and is forgotten for third.test.
		answerAll(heldB, testkit.OK)
		waitIdle()
		ch = send(lt, newReq("GET", "http://third.test/"))
		waitIdle()
		g.Take()[0].Answer(testkit.OK)
		<-ch
		var hosts []string
		for _, s := range lt.Stats() {
			hosts = append(hosts, s.Host)
		}
		if want := []string{"sim.test:80", "third.test:80"}; !reflect.DeepEqual(hosts, want) {
			t.Errorf("hosts %v, want %v", hosts, want)
		}
		heldA[0].Answer(testkit.OK)
		waitIdle()
	})
}

// A host whose limit went out of the way with time, unnoticed because no
// attempt came since, is forgotten for a new host like one never limited.
func TestHostRetiredAfterQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		lt := limiter.New(g, limiter.Settings{MaxHosts: 1, UnlimitedAfter: 10 * time.Second})
		answerAll(saturate(t, lt, g, 1), testkit.OK)
		waitIdle()
		ch := send(lt, newReq("GET", "http://other.test/"))
		waitIdle()
		answerAll(g.Take(), testkit.OK)
		<-ch
		if _, ok := statsOf(lt, "other.test:80"); ok {
			t.Fatal("other.test tracked while sim.test holds a limit")
		}
		time.Sleep(10 * time.Second)
		ch = send(lt, newReq("GET", "http://other.test/"))
		waitIdle()
		answerAll(g.Take(), testkit.OK)
		<-ch
		if _, ok := statsOf(lt, "other.test:80"); !ok {
			t.Error("other.test not tracked once sim.test's limit went out of the way")
		}
	})
}

// Hundreds of goroutines, backpressure, cancellations and several hosts at
// once, for the race detector; at the end nothing is in flight or waiting.
func TestConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hooks := limiter.Hooks{OnWait: func(string, time.Duration) {}, OnReject: func(string) {}}
		var base sync.Mutex
		busy := map[string]int{}
		lt := limiter.New(testkit.Func(func(req *http.Request) (*http.Response, error) {
			base.Lock()
			full := busy[req.URL.Host] >= 10
			if !full {
				busy[req.URL.Host]++
			}
			base.Unlock()
			if full {
				return testkit.ResourceExhausted(req)
			}
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			base.Lock()
			busy[req.URL.Host]--
			base.Unlock()
			return testkit.OK(req)
		}), limiter.Settings{MaxWaiters: 50}, limiter.WithHooks(hooks))
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
		st := lt.Stats()
		for _, s := range st {
			if s.InFlight != 0 || s.Waiting != 0 {
				t.Errorf("%+v at the end", s)
			}
		}
		if len(st) != 3 {
			t.Errorf("hosts %+v", st)
		}
	})
}

// Waiters come before a newcomer arriving as time raises the limit. (Under
// synctest the timer runs first at a shared instant; acquire hands the new
// permits to the queue itself too, so the order holds whoever notices
// first.)
func TestTimeGrowthServesWaitersFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
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
		calls := g.Take()
		if len(calls) != 1 || calls[0].Req.Header.Get("X-Order") != "waiter" {
			var got []string
			for _, c := range calls {
				got = append(got, c.Req.Header.Get("X-Order"))
			}
			t.Fatalf("let in at 1s: %v, want [waiter]", got)
		}
		held = append(held, calls...)
		time.Sleep(time.Second)
		waitIdle()
		held = append(held, g.Take()...)
		if len(held) != 3 {
			t.Errorf("%d in flight at 2s, want 3", len(held))
		}
		answerAll(held, testkit.OK)
		waitIdle()
	})
}

type closer struct {
	testkit.Func
	closed int
}

func (c *closer) CloseIdleConnections() { c.closed++ }

// http.Client.CloseIdleConnections reaches the base through the layer, in
// every profile.
func TestCloseIdleConnections(t *testing.T) {
	for _, p := range []limiter.Profile{limiter.Balanced, limiter.Off} {
		base := &closer{Func: testkit.Func(testkit.Fail(errors.New("unused")))}
		client := &http.Client{Transport: limiter.New(base, limiter.Settings{Profile: p})}
		client.CloseIdleConnections()
		if base.closed != 1 {
			t.Errorf("%v: base closed %d times, want 1", p, base.closed)
		}
	}
	limiter.New(testkit.Func(testkit.OK), limiter.Settings{}).CloseIdleConnections()
}

const activation = "http://sim.test/v2/jobs/activation"

// While the limit is out of the way, job activations (long polls the
// gateway parks) hold no permit: they are not counted as load when the
// first refusal sets the limit.
func TestLongPollsUnlimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		lt := limiter.New(g, frozen())
		for range 4 {
			send(lt, newReq("POST", activation))
		}
		for range 5 {
			send(lt, newReq("POST", target))
		}
		waitIdle()
		var polls, others []*testkit.Held
		for _, c := range g.Take() {
			if strings.HasSuffix(c.Req.URL.Path, "/activation") {
				polls = append(polls, c)
			} else {
				others = append(others, c)
			}
		}
		if len(polls) != 4 || len(others) != 5 {
			t.Fatalf("%d long polls and %d others reached the base, want 4 and 5", len(polls), len(others))
		}
		if s := stats(t, lt); s.InFlight != 5 || s.LongPolls != 4 {
			t.Errorf("%+v, want 5 in flight and 4 long polls", s)
		}
		others[0].Answer(testkit.ResourceExhausted)
		waitIdle()
		if s := stats(t, lt); s.Limit != 4 {
			t.Errorf("limit %d after the first refusal, want 4: the long polls are not load", s.Limit)
		}
		answerAll(polls, testkit.OK)
		answerAll(others[1:], testkit.OK)
		waitIdle()
		if s := stats(t, lt); s.InFlight != 0 || s.LongPolls != 0 {
			t.Errorf("%+v at the end", s)
		}
	})
}

// Once the limit holds, a job activation goes before the attempts waiting,
// holds a permit while the host serves it, and gives it back when the
// gateway has had the time to park it.
func TestLongPollPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, lt, held := queued(t, 3)
		poll := send(lt, newReq("POST", activation))
		waitIdle()
		if s := stats(t, lt); s.Waiting != 4 {
			t.Fatalf("%+v, want 4 waiting", s)
		}
		held[0].Answer(testkit.OK)
		waitIdle()
		calls := g.Take()
		if len(calls) != 1 || !strings.HasSuffix(calls[0].Req.URL.Path, "/activation") {
			t.Fatalf("%d attempts let in, want the long poll alone", len(calls))
		}
		p := calls[0]
		if s := stats(t, lt); s.InFlight != 2 || s.LongPolls != 0 {
			t.Errorf("%+v while the long poll is served, want 2 in flight, no long poll parked", s)
		}
		time.Sleep(100*time.Millisecond - time.Nanosecond)
		waitIdle()
		if n := len(g.Take()); n != 0 {
			t.Fatalf("%d attempts let in before the long poll's permit came back", n)
		}
		time.Sleep(time.Nanosecond)
		waitIdle()
		calls = g.Take()
		if len(calls) != 1 || calls[0].Req.Header.Get("X-Order") != "0" {
			t.Fatalf("after 100ms, %d attempts let in, want the first waiter", len(calls))
		}
		if s := stats(t, lt); s.InFlight != 2 || s.LongPolls != 1 || s.Waiting != 2 {
			t.Errorf("%+v once the long poll is parked, want 2 in flight, 1 long poll, 2 waiting", s)
		}
		// Its answer gives back no permit: it holds none.
		p.Answer(testkit.OK)
		if r := <-poll; r.err != nil {
			t.Fatal(r.err)
		}
		waitIdle()
		if n, s := len(g.Take()), stats(t, lt); n != 0 || s.InFlight != 2 || s.LongPolls != 0 {
			t.Errorf("after the long poll's answer: %d let in, %+v; want none, 2 in flight", n, s)
		}
		answerAll(append(held[1:], calls...), testkit.OK)
		for range 3 {
			waitIdle()
			answerAll(g.Take(), testkit.OK)
		}
		waitIdle()
	})
}

// Once the limit holds, a job activation that asks for an answer at once (a
// negative requestTimeout) is not parked by the gateway: it waits its turn
// behind the attempts before it, where a long poll goes first, and holds its
// permit until it is answered rather than giving it back after two rounds.
func TestActivationAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, lt, held := queued(t, 2)
		atOnce, _ := http.NewRequest("POST", activation, strings.NewReader(`{"type":"t","requestTimeout":-1}`))
		atOnce.Header.Set("X-Order", "at once")
		send(lt, atOnce)
		waitIdle()
		if s := stats(t, lt); s.Waiting != 3 {
			t.Fatalf("%+v, want 3 waiting", s)
		}
		var order []string
		for range 3 {
			held[0].Answer(testkit.OK)
			waitIdle()
			calls := g.Take()
			if len(calls) != 1 {
				t.Fatalf("%d attempts let in for one permit, want 1", len(calls))
			}
			order = append(order, calls[0].Req.Header.Get("X-Order"))
			held = append(held[1:], calls[0])
		}
		if want := []string{"0", "1", "at once"}; !slices.Equal(order, want) {
			t.Errorf("let in %q, want %q: the activation waits its turn", order, want)
		}
		// It holds its permit past two rounds (a tenth of
		// RecoveryInterval, with no round measured): it is not parked.
		time.Sleep(time.Second / 5)
		waitIdle()
		if s := stats(t, lt); s.InFlight != 2 || s.LongPolls != 0 {
			t.Errorf("%+v while the activation is served, want 2 in flight and no long poll", s)
		}
		answerAll(held, testkit.OK)
		waitIdle()
		if s := stats(t, lt); s.InFlight != 0 || s.LongPolls != 0 {
			t.Errorf("%+v at the end", s)
		}
	})
}

// An attempt's time bound (retry's AttemptTimeout) runs from sending it:
// an attempt that waits for a permit longer than the bound is sent when its
// turn comes, once, rather than cut in the queue as a transport error that
// the retry layer retries on the host's budget (and the breaker counts as
// the host's failure). Once sent, the bound holds it as before.
func TestAttemptBoundRunsFromSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &testkit.Gate{}
		lt := limiter.New(g, frozen())
		held := saturate(t, lt, g, 1)[0]
		var retries int
		rt := retry.New(lt, retry.Policy{AttemptTimeout: time.Second},
			retry.WithHooks(retry.Hooks{OnRetry: func(retry.Event) { retries++ }}))
		ch := send(rt, newReq("POST", target))
		time.Sleep(3 * time.Second) // three bounds in the queue
		waitIdle()
		if s := stats(t, lt); s.Waiting != 1 || retries != 0 {
			t.Fatalf("after 3s: %+v, %d retries; want the attempt still waiting, never retried", s, retries)
		}
		held.Answer(testkit.OK)
		waitIdle()
		calls := g.Take()
		if len(calls) != 1 {
			t.Fatalf("%d attempts sent once the permit was free, want 1", len(calls))
		}
		// Sent, it has its whole bound: answered within it, it is in time.
		time.Sleep(900 * time.Millisecond)
		calls[0].Answer(testkit.OK)
		if r := <-ch; r.err != nil || r.resp.StatusCode != 200 || retries != 0 {
			t.Fatalf("got %v, %v after %d retries; want the 200, never retried", r.resp, r.err, retries)
		}
	})
}
