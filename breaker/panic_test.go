package breaker

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
)

// mustPanic runs f and fails the test unless it panics with want.
func mustPanic(t *testing.T, want any, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if got := recover(); got != want {
			t.Fatalf("panic %v, want %v", got, want)
		}
	}()
	f()
}

// tracked records the response bodies next hands out, before anyone wraps
// them (verdict.Of replaces the body of a response it peeks at).
type tracked struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies []*testkit.Body
}

func (tk *tracked) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := tk.next.RoundTrip(req)
	if resp != nil {
		tk.mu.Lock()
		tk.bodies = append(tk.bodies, resp.Body.(*testkit.Body))
		tk.mu.Unlock()
	}
	return resp, err
}

// allClosed fails the test unless every response body handed out was
// closed.
func (tk *tracked) allClosed(t *testing.T) {
	t.Helper()
	tk.mu.Lock()
	defer tk.mu.Unlock()
	for i, b := range tk.bodies {
		if !b.Closed() {
			t.Errorf("response body %d was never closed", i)
		}
	}
}

// TestPanicBelow checks that a panic of the next RoundTripper reaches the
// caller and counts as nothing: in the closed state no failure is counted,
// and a probe gives its place back for the next one.
func TestPanicBelow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		panicky := true
		base := lettered()
		tr := New(testkit.Func(func(req *http.Request) (*http.Response, error) {
			if panicky {
				panic("below")
			}
			return base.RoundTrip(req)
		}), Settings{})
		for range 10 {
			mustPanic(t, "below", func() { tr.RoundTrip(request(t, gw, "/", "F")) })
		}
		if got := stats(tr, gw); got.State != Closed || got.Requests != 0 {
			t.Fatalf("after ten panics: %+v, want closed with nothing counted", got)
		}
		panicky = false
		run(t, tr, gw, "FFFFF")
		time.Sleep(defaultOpenTimeout + time.Millisecond)
		panicky = true
		mustPanic(t, "below", func() { tr.RoundTrip(request(t, gw, "/", "S")) })
		if got := state(tr, gw); got != HalfOpen {
			t.Fatalf("after a panicking probe: %v, want half-open", got)
		}
		panicky = false
		if run(t, tr, gw, "S") != 0 {
			t.Fatal("the probe after a panicking probe was refused: its place was kept")
		}
		if got := state(tr, gw); got != Closed {
			t.Fatalf("state %v after a successful probe", got)
		}
	})
}

// TestHookPanic checks that a panicking OnStateChange reaches the caller,
// that the response the layer held is closed first, and that the breaker
// goes on as if the hook had returned: its state, its probe's place and
// the transitions still to be told.
func TestHookPanic(t *testing.T) {
	tests := []struct {
		name  string
		on    change // the transition whose hook panics
		probe string // the probe's answer
		want  State  // after the probe
	}{
		{"trip", change{Closed, Open}, "S", Closed},
		{"probe let through", change{Open, HalfOpen}, "S", Closed},
		{"probe succeeded", change{HalfOpen, Closed}, "S", Closed},
		{"probe failed", change{HalfOpen, Open}, "F", Open},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var got []string
				base := lettered()
				bodies := &tracked{next: base}
				tr := New(bodies, Settings{}, WithHooks(Hooks{OnStateChange: func(h string, from, to State) {
					got = append(got, from.String()+">"+to.String())
					if (change{from, to}) == tt.on {
						panic("hook")
					}
				}}))
				tripHook := tt.on == change{Closed, Open}
				do := func(step string) {
					t.Helper()
					a := answerOf(step, tt.probe)
					if step == "F5" && tripHook || step == "probe" && !tripHook {
						mustPanic(t, "hook", func() { tr.RoundTrip(request(t, gw, "/", a)) })
						return
					}
					send(t, tr, request(t, gw, "/", a))
				}
				for _, a := range []string{"F", "F", "F", "F", "F5"} {
					do(a)
				}
				if s := stats(tr, gw); s.State != Open || s.OpenFor != defaultOpenTimeout {
					t.Fatalf("after tripping: %+v", s)
				}
				time.Sleep(defaultOpenTimeout + time.Millisecond)
				do("probe")
				if tt.on == (change{Open, HalfOpen}) {
					// The probe was not sent, and its place is free.
					if base.Count() != 5 {
						t.Fatalf("%d requests sent, want 5", base.Count())
					}
					if s := state(tr, gw); s != HalfOpen {
						t.Fatalf("state %v, want half-open", s)
					}
					send(t, tr, request(t, gw, "/", tt.probe))
				}
				if s := state(tr, gw); s != tt.want {
					t.Fatalf("after the probe: %v, want %v", s, tt.want)
				}
				// Every transition was told once, in order, the panicking
				// one included.
				want := "closed>open open>half-open half-open>" + tt.want.String()
				if strings.Join(got, " ") != want {
					t.Fatalf("hooks saw %q, want %q", got, want)
				}
				bodies.allClosed(t)
			})
		})
	}
}

// answerOf maps the steps of TestHookPanic to answers.
func answerOf(step, probe string) string {
	switch step {
	case "F5":
		return "F"
	case "probe":
		return probe
	}
	return step
}

// TestHookPanicKeepsQueue checks that transitions queued behind a panicking
// hook are told later, in order, by the next goroutine that delivers.
func TestHookPanicKeepsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []string
		release := make(chan struct{})
		tr := New(lettered(), Settings{}, WithHooks(Hooks{OnStateChange: func(h string, from, to State) {
			got = append(got, from.String()+">"+to.String())
			if len(got) == 1 {
				<-release
				panic("hook")
			}
		}}))
		done := make(chan struct{})
		go func() {
			defer close(done)
			mustPanic(t, "hook", func() { run(t, tr, gw, "FFFFF") })
		}()
		synctest.Wait() // the first hook is running
		time.Sleep(defaultOpenTimeout + time.Millisecond)
		// A failed probe: its two transitions wait behind the first.
		send(t, tr, request(t, gw, "/", "F"))
		if len(got) != 1 {
			t.Fatalf("hooks overlapped: %q", got)
		}
		close(release)
		<-done
		// A refusal delivers them.
		if run(t, tr, gw, "S") != 1 {
			t.Fatal("not refused")
		}
		if want := "closed>open open>half-open half-open>open"; strings.Join(got, " ") != want {
			t.Fatalf("hooks saw %q, want %q", got, want)
		}
	})
}

// TestRejectPanic checks that a panicking OnReject reaches the caller with
// the request's body closed and nothing held.
func TestRejectPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := New(lettered(), Settings{}, WithHooks(Hooks{OnReject: func(string, *http.Request) { panic("reject") }}))
		run(t, tr, gw, "FFFFF")
		body := testkit.NewBody("{}")
		req, _ := http.NewRequest(http.MethodPost, "http://h:8080/v2/process-instances", body)
		mustPanic(t, "reject", func() { tr.RoundTrip(req) })
		if !body.Closed() {
			t.Fatal("request body not closed")
		}
		time.Sleep(defaultOpenTimeout + time.Millisecond)
		if err := send(t, tr, request(t, gw, "/", "S")); err != nil || state(tr, gw) != Closed {
			t.Fatalf("probe: %v, state %v", err, state(tr, gw))
		}
	})
}
