package breaker

import (
	"errors"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/verdict"
)

// TestTrip runs scripted sequences of logical requests through a fresh
// breaker and checks whether they leave it open. Each letter is one logical
// request's final answer (see answers).
func TestTrip(t *testing.T) {
	ratioOnly := Settings{ConsecutiveFailures: -1}
	runOnly := Settings{FailureRatio: -1}
	tests := []struct {
		name string
		s    Settings
		give string
		want State
	}{
		{"five in a row", Settings{}, "FFFFF", Open},
		{"four in a row", Settings{}, "FFFF", Closed},
		{"success breaks the run", Settings{}, "FFFFSFFFF", Closed},
		{"client error is a success", Settings{}, "FFFFCFFFF", Closed},
		{"cancellations are excluded", Settings{}, "FFFFXXXXXF", Open},
		{"refusals are excluded", Settings{}, "FFFFRRRRRF", Open},
		{"only exclusions", Settings{}, strings.Repeat("XR", 20), Closed},
		{"every failure kind", Settings{}, "FTBED", Open},
		{"custom run", Settings{ConsecutiveFailures: 2}, "SFF", Open},

		{"half of ten", ratioOnly, "SSSSSFFFFF", Open},
		{"four of ten", ratioOnly, "SSSSSSFFFF", Closed},
		{"nine failures are below the minimum", ratioOnly, "FFFFFFFFF", Closed},
		{"ten failures", ratioOnly, "FFFFFFFFFF", Open},
		{"exclusions are not in the ratio", ratioOnly, "XXXXXXXXXXSSSSSFFFF", Closed},
		{"client errors are in the ratio", ratioOnly, "CCCCCCFFFF", Closed},
		{"interleaved", ratioOnly, "SFSFSFSFSF", Open},
		{"custom ratio", Settings{ConsecutiveFailures: -1, FailureRatio: 0.2, MinRequests: 5}, "SSSSF", Open},

		{"run rule only, ten of twenty", runOnly, "SFSFSFSFSFSFSFSFSFSF", Closed},
		{"run rule only, five in a row", runOnly, "SFFFFF", Open},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := New(lettered(), tt.s)
				if refused := run(t, tr, gw, tt.give); refused != 0 {
					t.Fatalf("%d requests refused while tripping", refused)
				}
				if got := state(tr, gw); got != tt.want {
					t.Fatalf("after %s: state %v, want %v", tt.give, got, tt.want)
				}
			})
		})
	}
}

// TestWindow checks that the rolling window forgets failures older than
// Window: five failures followed by a mixed ten trip the ratio rule only if
// the five are still in the window.
func TestWindow(t *testing.T) {
	tests := []struct {
		gap  time.Duration
		want State
	}{
		{0, Open},
		{5 * time.Second, Open},
		{8900 * time.Millisecond, Open},
		{9999 * time.Millisecond, Open},
		{10 * time.Second, Closed},
		{11 * time.Second, Closed},
		{time.Hour, Closed},
	}
	for _, tt := range tests {
		t.Run(tt.gap.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := New(lettered(), Settings{ConsecutiveFailures: -1})
				run(t, tr, gw, "FFFFF")
				time.Sleep(tt.gap)
				// 4 of 10 fail: only with the five old failures (9 of 15)
				// does the ratio reach one half.
				run(t, tr, gw, "SSSSSSFFFF")
				if got := state(tr, gw); got != tt.want {
					t.Fatalf("state %v, want %v", got, tt.want)
				}
			})
		})
	}
}

// TestOpenPeriod checks that the open period is honoured to the millisecond
// of the fake clock, that nothing is sent during it, and what the probe
// does.
func TestOpenPeriod(t *testing.T) {
	tests := []struct {
		name      string
		probe     string
		wantState State
	}{
		{"probe succeeds", "S", Closed},
		{"client error closes", "C", Closed},
		{"probe fails", "F", Open},
		{"probe transport error", "T", Open},
		{"probe canceled", "X", HalfOpen},
		{"probe refused below", "R", HalfOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base := lettered()
				tr := exact(New(base, Settings{}))
				run(t, tr, gw, "FFFFF")
				if got := state(tr, gw); got != Open {
					t.Fatalf("state %v after five failures", got)
				}

				time.Sleep(defaultOpenTimeout - time.Millisecond)
				err := send(t, tr, request(t, gw, "/", "S"))
				if !errors.Is(err, ErrOpen) {
					t.Fatalf("1ms before the end of the open period: %v", err)
				}
				if want := "breaker: http://h:8080 is open for another 1ms"; err.Error() != want {
					t.Fatalf("error %q, want %q", err, want)
				}
				if base.Count() != 5 {
					t.Fatalf("%d requests reached the host, want 5", base.Count())
				}

				time.Sleep(2 * time.Millisecond)
				if err := send(t, tr, request(t, gw, "/", tt.probe)); errors.Is(err, ErrOpen) {
					t.Fatalf("1ms after the open period: %v", err)
				}
				if base.Count() != 6 {
					t.Fatalf("%d requests reached the host, want 6", base.Count())
				}
				if got := state(tr, gw); got != tt.wantState {
					t.Fatalf("after probe %s: state %v, want %v", tt.probe, got, tt.wantState)
				}

				switch tt.wantState {
				case Closed:
					if refused := run(t, tr, gw, "SSSS"); refused != 0 {
						t.Fatalf("%d refused after closing", refused)
					}
				case Open:
					// A new open period from the failed probe, twice as
					// long.
					time.Sleep(2*defaultOpenTimeout - time.Millisecond)
					if refused := run(t, tr, gw, "S"); refused != 1 {
						t.Fatal("reopened breaker let a request through")
					}
					time.Sleep(2 * time.Millisecond)
					if refused := run(t, tr, gw, "SS"); refused != 0 {
						t.Fatal("second probe refused")
					}
				case HalfOpen:
					// The probe gave its place back.
					if refused := run(t, tr, gw, "SS"); refused != 0 {
						t.Fatal("probe after an excluded probe refused")
					}
				}
			})
		})
	}
}

// probing returns a base that holds requests with answer "wait" at the
// returned gate and answers the others by their letter.
func probing() (*testkit.Gate, http.RoundTripper) {
	gate := &testkit.Gate{}
	base := lettered()
	return gate, testkit.Func(func(req *http.Request) (*http.Response, error) {
		if req.URL.Query().Get("a") == "wait" {
			return gate.RoundTrip(req)
		}
		return base.RoundTrip(req)
	})
}

// TestHalfOpenOneProbe checks that only the probe goes through while
// half-open, and that the others fail fast with ErrOpen.
func TestHalfOpenOneProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate, base := probing()
		tr := exact(New(base, Settings{}))
		run(t, tr, gw, "FFFFF")
		time.Sleep(defaultOpenTimeout + time.Millisecond)

		done := make(chan error)
		go func() { done <- send(t, tr, request(t, gw, "/", "wait")) }()
		synctest.Wait() // the probe is at the gate
		if got := state(tr, gw); got != HalfOpen {
			t.Fatalf("state %v while the probe is out", got)
		}
		for range 3 {
			err := send(t, tr, request(t, gw, "/", "S"))
			var oe *OpenError
			if !errors.As(err, &oe) || oe.State != HalfOpen || !errors.Is(err, ErrOpen) {
				t.Fatalf("request beside the probe: %v", err)
			}
			if want := "breaker: http://h:8080 is half-open, waiting for its probe"; err.Error() != want {
				t.Fatalf("error %q, want %q", err, want)
			}
		}
		held := gate.Take()
		if len(held) != 1 {
			t.Fatalf("%d probes out, want 1", len(held))
		}
		held[0].Answer(testkit.OK)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := state(tr, gw); got != Closed {
			t.Fatalf("state %v after the probe succeeded", got)
		}
	})
}

// TestProbes checks Settings.Probes: all probes must succeed to close, and
// the first failure opens again.
func TestProbes(t *testing.T) {
	for _, tt := range []struct {
		name    string
		answers []testkit.Step
		want    State
	}{
		{"all succeed", []testkit.Step{testkit.OK, testkit.OK, testkit.OK}, Closed},
		{"one fails", []testkit.Step{testkit.OK, testkit.Unavailable, testkit.OK}, Open},
		{"one canceled", []testkit.Step{testkit.OK, testkit.Fail(errFull), testkit.OK}, HalfOpen},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gate, base := probing()
				tr := exact(New(base, Settings{Probes: 3}))
				run(t, tr, gw, "FFFFF")
				time.Sleep(defaultOpenTimeout + time.Millisecond)
				var wg sync.WaitGroup
				for range 3 {
					wg.Go(func() { send(t, tr, request(t, gw, "/", "wait")) })
				}
				synctest.Wait()
				if run(t, tr, gw, "S") != 1 {
					t.Fatal("a fourth request went through beside three probes")
				}
				held := gate.Take()
				if len(held) != 3 {
					t.Fatalf("%d probes out, want 3", len(held))
				}
				for i, h := range held {
					h.Answer(tt.answers[i])
					synctest.Wait()
				}
				wg.Wait()
				if got := state(tr, gw); got != tt.want {
					t.Fatalf("state %v, want %v", got, tt.want)
				}
			})
		})
	}
}

// TestRetryAfter checks that a Retry-After on the response that trips the
// breaker lengthens the open period, up to MaxRetryAfter, and that one on an
// earlier response does not.
func TestRetryAfter(t *testing.T) {
	long := Settings{OpenTimeout: 10 * time.Second}
	tests := []struct {
		name string
		s    Settings
		give string // Retry-After on the fifth failure
		four string // Retry-After on the first four
		want time.Duration
	}{
		{"none", Settings{}, "", "", defaultOpenTimeout},
		{"seconds", Settings{}, "30", "", 30 * time.Second},
		{"shorter than the open period", long, "2", "", 10 * time.Second},
		{"capped", Settings{}, "3600", "", 60 * time.Second},
		{"custom cap", Settings{MaxRetryAfter: 20 * time.Second}, "3600", "", 20 * time.Second},
		{"ignored", Settings{MaxRetryAfter: -1}, "30", "", defaultOpenTimeout},
		{"date", Settings{}, "date+45s", "", 45 * time.Second},
		{"malformed", Settings{}, "soon", "", defaultOpenTimeout},
		{"only on earlier failures", Settings{}, "", "30", defaultOpenTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := exact(New(lettered(), tt.s))
				for i := range 5 {
					ra := tt.four
					if i == 4 {
						ra = tt.give
					}
					if ra == "date+45s" {
						ra = time.Now().Add(45 * time.Second).UTC().Format(http.TimeFormat)
					}
					req := request(t, gw, "/", "F")
					if ra != "" {
						q := req.URL.Query()
						q.Set("Retry-After", ra)
						req.URL.RawQuery = q.Encode()
					}
					send(t, tr, req)
				}
				if got := stats(tr, gw); got.OpenPeriod != tt.want || got.OpenFor != tt.want {
					t.Fatalf("stats %+v, want an open period of %v", got, tt.want)
				}
				time.Sleep(tt.want - time.Millisecond)
				if run(t, tr, gw, "S") != 1 {
					t.Fatalf("let through 1ms before %v", tt.want)
				}
				if got := state(tr, gw); got != Open {
					t.Fatalf("state %v 1ms before %v", got, tt.want)
				}
				time.Sleep(2 * time.Millisecond)
				if run(t, tr, gw, "S") != 0 {
					t.Fatalf("refused 1ms after %v", tt.want)
				}
			})
		})
	}
}

// TestRetryAfterOnProbe checks that a failed probe's Retry-After lengthens
// the open period it starts.
func TestRetryAfterOnProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := exact(New(lettered(), Settings{}))
		run(t, tr, gw, "FFFFF")
		time.Sleep(defaultOpenTimeout + time.Millisecond)
		req, _ := http.NewRequest(http.MethodGet, "http://h:8080/?a=F&Retry-After=20", nil)
		send(t, tr, req)
		if got := stats(tr, gw); got.State != Open || got.OpenFor != 20*time.Second {
			t.Fatalf("after a probe asking for 20s: %+v", got)
		}
	})
}

// drains are the paths of drain operations.
var drains = []string{
	"/v2/jobs/2251799813685249/completion",
	"/v2/jobs/2251799813685249/failure",
	"/zeebe/v2/jobs/2251799813685249/error",
	"/v2/user-tasks/2251799813685300/completion",
}

// TestDrain checks the drain rule: job completion, failure and error and
// user-task completion pass an open or half-open breaker uncounted, and are
// counted like any request while it is closed.
func TestDrain(t *testing.T) {
	t.Run("open", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			base := lettered()
			var rejects int
			tr := exact(New(base, Settings{OpenTimeout: 10 * time.Second}, WithHooks(Hooks{OnReject: func(string, *http.Request) { rejects++ }})))
			run(t, tr, gw, "FFFFF")
			time.Sleep(4 * time.Second)
			for _, p := range drains {
				for _, a := range []string{"S", "F", "T"} {
					if err := send(t, tr, request(t, gw, p, a)); errors.Is(err, ErrOpen) {
						t.Fatalf("%s refused: %v", p, err)
					}
				}
			}
			if got, want := base.Count(), 5+3*len(drains); got != want {
				t.Fatalf("%d requests reached the host, want %d", got, want)
			}
			if rejects != 0 {
				t.Fatalf("%d rejections reported", rejects)
			}
			// Their failures did not count: the open period is the first.
			err := send(t, tr, request(t, gw, "/v2/jobs/activation", "S"))
			if want := "breaker: http://h:8080 is open for another 6s"; err == nil || err.Error() != want {
				t.Fatalf("after drains: %v, want %s", err, want)
			}
			// Nor did their successes close the breaker.
			if got := state(tr, gw); got != Open {
				t.Fatalf("state %v", got)
			}
		})
	})
	t.Run("half-open", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			gate, base := probing()
			tr := exact(New(base, Settings{}))
			run(t, tr, gw, "FFFFF")
			time.Sleep(defaultOpenTimeout + time.Millisecond)
			// A drain after the open period does not take the probe's
			// place...
			if err := send(t, tr, request(t, gw, drains[0], "S")); err != nil {
				t.Fatal(err)
			}
			done := make(chan error)
			go func() { done <- send(t, tr, request(t, gw, "/v2/jobs/activation", "wait")) }()
			synctest.Wait()
			// ...nor does it need one while the probe is out.
			for _, p := range drains {
				if err := send(t, tr, request(t, gw, p, "F")); err != nil {
					t.Fatalf("%s beside the probe: %v", p, err)
				}
			}
			if err := send(t, tr, request(t, gw, "/v2/jobs/activation", "S")); !errors.Is(err, ErrOpen) {
				t.Fatalf("activation beside the probe: %v", err)
			}
			gate.Take()[0].Answer(testkit.OK)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := state(tr, gw); got != Closed {
				t.Fatalf("state %v after the probe, want closed: the drains' failures counted", got)
			}
		})
	})
	t.Run("closed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr := New(lettered(), Settings{})
			for range 5 {
				send(t, tr, request(t, gw, drains[0], "F"))
			}
			if got := state(tr, gw); got != Open {
				t.Fatalf("state %v after five failed completions, want open", got)
			}
		})
	})
}

// TestRefusal checks the error and the side effects of a refused request.
func TestRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := lettered()
		type reject struct {
			host string
			req  *http.Request
		}
		var rejected []reject
		tr := exact(New(base, Settings{OpenTimeout: 10 * time.Second}, WithHooks(Hooks{OnReject: func(h string, r *http.Request) {
			rejected = append(rejected, reject{h, r})
		}})))
		start := time.Now()
		run(t, tr, gw, "FFFFF")
		time.Sleep(2500 * time.Millisecond)

		body := testkit.NewBody("{}")
		req, _ := http.NewRequest(http.MethodPost, "http://h:8080/v2/process-instances", body)
		req.Header.Set("X-Keep", "1")
		orig := *req
		resp, err := tr.RoundTrip(req)
		if resp != nil {
			t.Fatal("response with a refusal")
		}
		if want := "breaker: http://h:8080 is open for another 7.5s"; err == nil || err.Error() != want {
			t.Fatalf("error %v, want %s", err, want)
		}
		if !errors.Is(err, ErrOpen) || !errors.Is(err, verdict.ErrRefused) {
			t.Fatalf("%v does not match ErrOpen and verdict.ErrRefused", err)
		}
		var oe *OpenError
		if !errors.As(err, &oe) || oe.Host != "http://h:8080" || oe.State != Open || oe.Remaining() != 7500*time.Millisecond || !oe.Until.Equal(start.Add(10*time.Second)) {
			t.Fatalf("OpenError %+v", oe)
		}
		if a := verdict.Of(req, nil, err); a.Kind != verdict.Refused || !a.NotSent {
			t.Fatalf("verdict %+v, want refused and not sent", a)
		}
		if !body.Closed() || body.BytesRead() != 0 {
			t.Fatalf("body closed %v, %d bytes read", body.Closed(), body.BytesRead())
		}
		if base.Count() != 5 {
			t.Fatal("a refused request reached the host")
		}
		if req.URL != orig.URL || req.Body != orig.Body || req.Header.Get("X-Keep") != "1" || len(req.Header) != 1 {
			t.Fatal("request modified")
		}
		if len(rejected) != 1 || rejected[0].host != gw || rejected[0].req != req {
			t.Fatalf("OnReject calls %v", rejected)
		}

		// Through an http.Client, which wraps it in a *url.Error.
		c := &http.Client{Transport: tr}
		_, err = c.Get("http://h:8080/v2/topology")
		if !errors.Is(err, ErrOpen) || !errors.Is(err, verdict.ErrRefused) {
			t.Fatalf("through http.Client: %v", err)
		}
	})
}

// TestHosts checks that breakers are per host, and that spellings of one
// host share one.
func TestHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := New(lettered(), Settings{})
		run(t, tr, "a:80", "FFFFF")
		if run(t, tr, "b:80", "SFSFS") != 0 || state(tr, "b:80") != Closed {
			t.Fatal("b affected by a's breaker")
		}
		for _, h := range []string{"a", "A:80", "a:80"} {
			if run(t, tr, h, "S") != 1 {
				t.Fatalf("%s not refused", h)
			}
		}
		// https on the default port is another host.
		req, _ := http.NewRequest(http.MethodGet, "https://a/?a=S", nil)
		if err := send(t, tr, req); err != nil {
			t.Fatalf("https://a refused: %v", err)
		}
		var got []string
		for _, s := range tr.Stats() {
			got = append(got, s.Host+" "+s.State.String())
		}
		if want := "a:443 closed,a:80 open,b:80 closed"; strings.Join(got, ",") != want {
			t.Fatalf("Stats: %s, want %s", strings.Join(got, ","), want)
		}
	})
}

// TestEvict checks the bound on hosts and which breaker gives way: a closed
// one unused since the last scan, never an open one; a host that finds none
// goes without a breaker.
func TestEvict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := lettered()
		tr := exact(New(base, Settings{MaxHosts: 2}))
		hostsNow := func() string {
			var hs []string
			for _, s := range tr.Stats() {
				hs = append(hs, s.Host)
			}
			return strings.Join(hs, " ")
		}
		run(t, tr, "a:80", "FFFFF") // open: kept
		run(t, tr, "b:80", "S")
		// b was used since the table last looked: it gets a second chance,
		// and c goes without a breaker.
		if run(t, tr, "c:80", "F") != 0 || hostsNow() != "a:80 b:80" {
			t.Fatalf("c was refused or took a place: %s", hostsNow())
		}
		// Now b is idle since the last scan: it gives way to c.
		run(t, tr, "c:80", "FFFFF")
		if got := hostsNow(); got != "a:80 c:80" {
			t.Fatalf("hosts %s, want a:80 c:80", got)
		}
		if state(tr, "a:80") != Open || state(tr, "c:80") != Open {
			t.Fatal("an open breaker was forgotten")
		}
		// Two open breakers: nothing gives way to d, which is not refused.
		if run(t, tr, "d:80", "SSS") != 0 || hostsNow() != "a:80 c:80" {
			t.Fatalf("d: hosts %s", hostsNow())
		}
		// A host that comes back starts closed.
		time.Sleep(defaultOpenTimeout + time.Millisecond)
		run(t, tr, "a:80", "S") // a closes
		run(t, tr, "d:80", "S") // the scan clears a's mark
		run(t, tr, "b:80", "S") // a gives way
		if got := hostsNow(); got != "b:80 c:80" || state(tr, "b:80") != Closed {
			t.Fatalf("hosts %s, b %v", got, state(tr, "b:80"))
		}
	})
}

// TestHooks checks the order of the transitions delivered, and that a hook
// may call Stats without deadlocking.
func TestHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			tr     *Transport
			mu     sync.Mutex
			got    []string
			inHook bool
		)
		tr = exact(New(lettered(), Settings{}, WithHooks(Hooks{
			OnStateChange: func(h string, from, to State) {
				mu.Lock()
				if inHook {
					t.Error("overlapping OnStateChange calls")
				}
				inHook = true
				mu.Unlock()
				s := state(tr, h) // must not deadlock
				mu.Lock()
				got = append(got, h+" "+from.String()+">"+to.String()+" ("+s.String()+")")
				inHook = false
				mu.Unlock()
			},
			OnReject: func(h string, _ *http.Request) {
				mu.Lock()
				got = append(got, h+" reject")
				mu.Unlock()
			},
		})))
		run(t, tr, gw, "FFFFFS")
		time.Sleep(defaultOpenTimeout + time.Millisecond)
		run(t, tr, gw, "F") // probe fails
		time.Sleep(2*defaultOpenTimeout + time.Millisecond)
		if s := state(tr, gw); s != HalfOpen { // the effective state
			t.Fatalf("state %v", s)
		}
		run(t, tr, gw, "S")
		want := []string{
			"h:8080 closed>open (open)",
			"h:8080 reject",
			"h:8080 open>half-open (half-open)",
			"h:8080 half-open>open (open)",
			"h:8080 open>half-open (half-open)",
			"h:8080 half-open>closed (closed)",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("hooks saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestStats checks what Stats reports in each state.
func TestStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := exact(New(lettered(), Settings{OpenTimeout: 10 * time.Second}))
		if got := tr.Stats(); len(got) != 0 {
			t.Fatalf("Stats before any request: %+v", got)
		}
		run(t, tr, gw, "SFSXFF")
		want := HostStats{Host: gw, State: Closed, Requests: 5, Failures: 3, ConsecutiveFailures: 2}
		if got := stats(tr, gw); got != want {
			t.Fatalf("closed: %+v, want %+v", got, want)
		}
		time.Sleep(5 * time.Second)
		run(t, tr, gw, "FF")
		want = HostStats{Host: gw, State: Closed, Requests: 7, Failures: 5, ConsecutiveFailures: 4}
		if got := stats(tr, gw); got != want {
			t.Fatalf("closed: %+v, want %+v", got, want)
		}
		time.Sleep(5500 * time.Millisecond) // the first six leave the window
		want = HostStats{Host: gw, State: Closed, Requests: 2, Failures: 2, ConsecutiveFailures: 2}
		if got := stats(tr, gw); got != want {
			t.Fatalf("after 10.5s: %+v, want %+v", got, want)
		}
		run(t, tr, gw, "FFF")
		time.Sleep(time.Second)
		want = HostStats{Host: gw, State: Open, OpenFor: 9 * time.Second, OpenPeriod: 10 * time.Second}
		if got := stats(tr, gw); got != want {
			t.Fatalf("open: %+v, want %+v", got, want)
		}
		time.Sleep(9*time.Second + time.Nanosecond)
		want = HostStats{Host: gw, State: HalfOpen, OpenPeriod: 10 * time.Second}
		if got := stats(tr, gw); got != want {
			t.Fatalf("open period over: %+v, want %+v", got, want)
		}
		run(t, tr, gw, "S")
		want = HostStats{Host: gw, State: Closed, OpenPeriod: 10 * time.Second}
		if got := stats(tr, gw); got != want {
			t.Fatalf("closed again: %+v, want %+v", got, want)
		}
	})
}

// TestContract checks the answers of a next RoundTripper that breaks its
// contract.
func TestContract(t *testing.T) {
	body := testkit.NewBody("")
	both := testkit.Func(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: body}, errors.New("reset")
	})
	resp, err := New(both, Settings{}).RoundTrip(request(t, gw, "/", "S"))
	if resp != nil || err == nil || err.Error() != "reset" || !body.Closed() {
		t.Fatalf("response and error: got %v, %v, body closed %v", resp, err, body.Closed())
	}
	neither := testkit.Func(func(*http.Request) (*http.Response, error) { return nil, nil })
	tr := New(neither, Settings{})
	resp, err = tr.RoundTrip(request(t, gw, "/", "S"))
	if resp != nil || !errors.Is(err, errNoResponse) {
		t.Fatalf("neither: got %v, %v", resp, err)
	}
	run(t, tr, gw, "SSSS")
	if state(tr, gw) != Open {
		t.Fatal("an empty answer did not count as a failure")
	}
}

// TestDisabled checks that a disabled breaker passes everything.
func TestDisabled(t *testing.T) {
	base := lettered()
	tr := New(base, Settings{Disabled: true}, WithHooks(Hooks{OnStateChange: func(string, State, State) { t.Error("hook called") }}))
	if run(t, tr, gw, strings.Repeat("F", 50)) != 0 || base.Count() != 50 {
		t.Fatal("disabled breaker refused")
	}
	if len(tr.Stats()) != 0 {
		t.Fatal("a disabled breaker keeps hosts")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		give Settings
		want string // the field named, "" when valid
	}{
		{Settings{}, ""},
		{Settings{Window: time.Second, Bucket: 100 * time.Millisecond, FailureRatio: 1, MinRequests: 1, ConsecutiveFailures: 1, OpenTimeout: time.Millisecond, MaxOpenTimeout: -1, MaxRetryAfter: -1, Probes: 3, MaxHosts: 1}, ""},
		{Settings{FailureRatio: -1}, ""},
		{Settings{ConsecutiveFailures: -1}, ""},
		{Settings{Window: time.Second, Bucket: time.Second}, ""},
		{Settings{Window: time.Second, Bucket: time.Millisecond}, ""},
		{Settings{Window: -1}, "Window"},
		{Settings{Bucket: -1}, "Bucket"},
		{Settings{Bucket: 11 * time.Second}, "Bucket"},
		{Settings{Window: time.Second, Bucket: time.Millisecond - 1}, "Bucket"},
		{Settings{FailureRatio: 1.5}, "FailureRatio"},
		{Settings{FailureRatio: math.NaN()}, "FailureRatio"},
		{Settings{FailureRatio: math.Inf(1)}, "FailureRatio"},
		{Settings{FailureRatio: math.Inf(-1)}, "FailureRatio"},
		{Settings{FailureRatio: -1, ConsecutiveFailures: -1}, "FailureRatio"},
		{Settings{MinRequests: -1}, "MinRequests"},
		{Settings{MinRequests: 1 << 40}, "MinRequests"},
		{Settings{ConsecutiveFailures: 1 << 40}, "ConsecutiveFailures"},
		{Settings{OpenTimeout: -1}, "OpenTimeout"},
		{Settings{Probes: -1}, "Probes"},
		{Settings{Probes: 1 << 40}, "Probes"},
		{Settings{MaxHosts: -1}, "MaxHosts"},
	}
	for _, tt := range tests {
		err := tt.give.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.give, err)
		case tt.want != "" && (!errors.Is(err, ErrInvalidSettings) || !strings.HasPrefix(err.Error(), "breaker: invalid settings: "+tt.want+" = ")):
			t.Errorf("%+v: %v, want an error naming %s", tt.give, err, tt.want)
		}
	}
	if err := (Settings{FailureRatio: math.NaN()}).Validate(); err.Error() != "breaker: invalid settings: FailureRatio = NaN: must be a finite number" {
		t.Errorf("message %q", err)
	}
	defer func() {
		if err, _ := recover().(error); !errors.Is(err, ErrInvalidSettings) {
			t.Fatalf("New panicked with %v", err)
		}
	}()
	New(nil, Settings{Window: -1})
}

func TestDefaults(t *testing.T) {
	got := New(nil, Settings{}).Settings()
	want := Settings{
		Window: 10 * time.Second, Bucket: time.Second, FailureRatio: 0.5, MinRequests: 10,
		ConsecutiveFailures: 5, OpenTimeout: 100 * time.Millisecond, MaxOpenTimeout: 500 * time.Millisecond,
		MaxRetryAfter: time.Minute, Probes: 1, ProbeTimeout: 10 * time.Second, MaxHosts: 1024,
	}
	if got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	for _, tt := range []struct {
		s    State
		want string
	}{{Closed, "closed"}, {HalfOpen, "half-open"}, {Open, "open"}, {7, "unknown"}} {
		if tt.s.String() != tt.want {
			t.Errorf("%d: %q", tt.s, tt.s.String())
		}
	}
}

// TestNoAllocs checks that a closed breaker's happy path allocates nothing.
func TestNoAllocs(t *testing.T) {
	ok := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}
	tr := New(testkit.Func(func(*http.Request) (*http.Response, error) { return ok, nil }), Settings{},
		WithHooks(Hooks{OnStateChange: func(string, State, State) {}, OnReject: func(string, *http.Request) {}}))
	req, _ := http.NewRequest(http.MethodGet, "http://h:8080/v2/topology", nil)
	tr.RoundTrip(req)
	if n := testing.AllocsPerRun(1000, func() { tr.RoundTrip(req) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}

type idleCloser struct {
	http.RoundTripper
	closed int
}

func (c *idleCloser) CloseIdleConnections() { c.closed++ }

// TestCloseIdleConnections checks that http.Client.CloseIdleConnections
// reaches through the layer, and that New defaults to
// http.DefaultTransport.
func TestCloseIdleConnections(t *testing.T) {
	next := &idleCloser{RoundTripper: lettered()}
	c := &http.Client{Transport: New(next, Settings{})}
	c.CloseIdleConnections()
	if next.closed != 1 {
		t.Fatalf("CloseIdleConnections reached the next RoundTripper %d times", next.closed)
	}
	New(testkit.Func(nil), Settings{}).CloseIdleConnections() // no such method: nothing happens
	if New(nil, Settings{}).next != http.DefaultTransport {
		t.Fatal("nil next is not http.DefaultTransport")
	}
}
