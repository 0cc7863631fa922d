package breaker

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/verdict"
)

const host = "h:8080"

// TestTrip runs scripted sequences of logical requests through a fresh
// breaker and checks whether they leave it open. Each letter is one logical
// request's final answer (see scripted).
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
				tr := New(&scripted{}, tt.s)
				if refused := run(t, tr, host, tt.give); refused != 0 {
					t.Fatalf("%d requests refused while tripping", refused)
				}
				if got := tr.State(host); got != tt.want {
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
		{10 * time.Second, Closed},
		{11 * time.Second, Closed},
	}
	for _, tt := range tests {
		t.Run(tt.gap.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := New(&scripted{}, Settings{ConsecutiveFailures: -1})
				run(t, tr, host, "FFFFF")
				time.Sleep(tt.gap)
				// 4 of 10 fail: only with the five old failures (9 of 15)
				// does the ratio reach one half.
				run(t, tr, host, "SSSSSSFFFF")
				if got := tr.State(host); got != tt.want {
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base := &scripted{}
				tr := New(base, Settings{})
				run(t, tr, host, "FFFFF")
				if got := tr.State(host); got != Open {
					t.Fatalf("state %v after five failures", got)
				}

				time.Sleep(DefaultOpenTimeout - time.Millisecond)
				err := send(t, tr, request(t, host, "/", "S"))
				if !errors.Is(err, ErrOpen) {
					t.Fatalf("1ms before the end of the open period: %v", err)
				}
				if want := "breaker: http://h:8080 is open for another 1ms"; err.Error() != want {
					t.Fatalf("error %q, want %q", err, want)
				}
				if base.hits.Load() != 5 {
					t.Fatalf("%d requests reached the host, want 5", base.hits.Load())
				}

				time.Sleep(2 * time.Millisecond)
				if err := send(t, tr, request(t, host, "/", tt.probe)); errors.Is(err, ErrOpen) {
					t.Fatalf("1ms after the open period: %v", err)
				}
				if base.hits.Load() != 6 {
					t.Fatalf("%d requests reached the host, want 6", base.hits.Load())
				}
				if got := tr.State(host); got != tt.wantState {
					t.Fatalf("after probe %s: state %v, want %v", tt.probe, got, tt.wantState)
				}

				switch tt.wantState {
				case Closed:
					if refused := run(t, tr, host, "SSSS"); refused != 0 {
						t.Fatalf("%d refused after closing", refused)
					}
				case Open:
					// A new open period from the failed probe.
					time.Sleep(DefaultOpenTimeout - time.Millisecond)
					if refused := run(t, tr, host, "S"); refused != 1 {
						t.Fatal("reopened breaker let a request through")
					}
					time.Sleep(2 * time.Millisecond)
					if refused := run(t, tr, host, "SS"); refused != 0 {
						t.Fatal("second probe refused")
					}
				case HalfOpen:
					// The canceled probe gave its slot back.
					if refused := run(t, tr, host, "SS"); refused != 0 {
						t.Fatal("probe after a canceled probe refused")
					}
				}
			})
		})
	}
}

// TestHalfOpenOneProbe checks that only the probe goes through while
// half-open, and that the others fail fast with ErrOpen.
func TestHalfOpenOneProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		base := &scripted{}
		var hits int
		tr := New(rtFunc(func(req *http.Request) (*http.Response, error) {
			hits++
			if req.URL.Query().Get("a") == "wait" {
				<-release
				return answer(200, "", ""), nil
			}
			return base.RoundTrip(req)
		}), Settings{})
		run(t, tr, host, "FFFFF")
		time.Sleep(DefaultOpenTimeout + time.Millisecond)

		done := make(chan error)
		go func() { done <- send(t, tr, request(t, host, "/", "wait")) }()
		synctest.Wait() // the probe is inside the base
		if got := tr.State(host); got != HalfOpen {
			t.Fatalf("state %v while the probe is out", got)
		}
		for range 3 {
			err := send(t, tr, request(t, host, "/", "S"))
			var oe *OpenError
			if !errors.As(err, &oe) || oe.State != HalfOpen || !errors.Is(err, ErrOpen) {
				t.Fatalf("request beside the probe: %v", err)
			}
			if want := "breaker: http://h:8080 is half-open, waiting for its probe"; err.Error() != want {
				t.Fatalf("error %q, want %q", err, want)
			}
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if hits != 6 {
			t.Fatalf("%d requests reached the host, want 6", hits)
		}
		if got := tr.State(host); got != Closed {
			t.Fatalf("state %v after the probe succeeded", got)
		}
	})
}

// TestRetryAfter checks that a Retry-After on the response that trips the
// breaker lengthens the open period, up to MaxOpenTimeout, and that one on
// an earlier response does not.
func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		give string // Retry-After on the fifth failure
		four string // Retry-After on the first four
		want time.Duration
	}{
		{"none", Settings{}, "", "", 10 * time.Second},
		{"seconds", Settings{}, "30", "", 30 * time.Second},
		{"shorter than the open timeout", Settings{}, "2", "", 10 * time.Second},
		{"capped", Settings{}, "3600", "", 60 * time.Second},
		{"custom cap", Settings{MaxOpenTimeout: 20 * time.Second}, "3600", "", 20 * time.Second},
		{"cap below the open timeout", Settings{MaxOpenTimeout: 5 * time.Second}, "30", "", 10 * time.Second},
		{"ignored", Settings{MaxOpenTimeout: -1}, "30", "", 10 * time.Second},
		{"date", Settings{}, "date+45s", "", 45 * time.Second},
		{"malformed", Settings{}, "soon", "", 10 * time.Second},
		{"only on earlier failures", Settings{}, "", "30", 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := New(&scripted{}, tt.s)
				for i := range 5 {
					ra := tt.four
					if i == 4 {
						ra = tt.give
					}
					if ra == "date+45s" {
						ra = time.Now().Add(45 * time.Second).UTC().Format(http.TimeFormat)
					}
					req := request(t, host, "/", "F")
					if ra != "" {
						q := req.URL.Query()
						q.Set("Retry-After", ra)
						req.URL.RawQuery = q.Encode()
					}
					send(t, tr, req)
				}
				time.Sleep(tt.want - time.Millisecond)
				if run(t, tr, host, "S") != 1 {
					t.Fatalf("let through 1ms before %v", tt.want)
				}
				if got := tr.State(host); got != Open {
					t.Fatalf("state %v 1ms before %v", got, tt.want)
				}
				time.Sleep(2 * time.Millisecond)
				if run(t, tr, host, "S") != 0 {
					t.Fatalf("refused 1ms after %v", tt.want)
				}
			})
		})
	}
}

// TestDrain checks the drain rule: job completion, failure and error and
// user-task completion pass an open or half-open breaker uncounted, and are
// counted like any request while it is closed.
func TestDrain(t *testing.T) {
	drains := []string{
		"/v2/jobs/2251799813685249/completion",
		"/v2/jobs/2251799813685249/failure",
		"/zeebe/v2/jobs/2251799813685249/error",
		"/v2/user-tasks/2251799813685300/completion",
	}
	t.Run("open", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			base := &scripted{}
			var rejects int
			tr := New(base, Settings{}, WithHooks(Hooks{OnReject: func(string) { rejects++ }}))
			run(t, tr, host, "FFFFF")
			time.Sleep(4 * time.Second)
			for _, p := range drains {
				for _, a := range []string{"S", "F", "T"} {
					if err := send(t, tr, request(t, host, p, a)); errors.Is(err, ErrOpen) {
						t.Fatalf("%s refused: %v", p, err)
					}
				}
			}
			if got, want := base.hits.Load(), int64(5+3*len(drains)); got != want {
				t.Fatalf("%d requests reached the host, want %d", got, want)
			}
			if rejects != 0 {
				t.Fatalf("%d rejections reported", rejects)
			}
			// Their failures did not count: the open period is the first.
			err := send(t, tr, request(t, host, "/v2/jobs/activation", "S"))
			if want := "breaker: http://h:8080 is open for another 6s"; err == nil || err.Error() != want {
				t.Fatalf("after drains: %v, want %s", err, want)
			}
			// Nor did their successes close the breaker.
			if got := tr.State(host); got != Open {
				t.Fatalf("state %v", got)
			}
		})
	})
	t.Run("half-open", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			base := &scripted{}
			tr := New(rtFunc(func(req *http.Request) (*http.Response, error) {
				if req.URL.Query().Get("a") == "wait" {
					<-release
					return answer(200, "", ""), nil
				}
				return base.RoundTrip(req)
			}), Settings{})
			run(t, tr, host, "FFFFF")
			time.Sleep(DefaultOpenTimeout + time.Millisecond)
			// A drain after the open period does not take the probe's
			// slot...
			if err := send(t, tr, request(t, host, drains[0], "S")); err != nil {
				t.Fatal(err)
			}
			if got := tr.State(host); got != HalfOpen {
				t.Fatalf("state %v, want half-open", got)
			}
			done := make(chan error)
			go func() { done <- send(t, tr, request(t, host, "/v2/jobs/activation", "wait")) }()
			synctest.Wait()
			// ...nor does it need one while the probe is out.
			for _, p := range drains {
				if err := send(t, tr, request(t, host, p, "F")); err != nil {
					t.Fatalf("%s beside the probe: %v", p, err)
				}
			}
			if err := send(t, tr, request(t, host, "/v2/jobs/activation", "S")); !errors.Is(err, ErrOpen) {
				t.Fatalf("activation beside the probe: %v", err)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := tr.State(host); got != Closed {
				t.Fatalf("state %v after the probe, want closed: the drains' failures counted", got)
			}
		})
	})
	t.Run("closed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr := New(&scripted{}, Settings{})
			for range 5 {
				send(t, tr, request(t, host, drains[0], "F"))
			}
			if got := tr.State(host); got != Open {
				t.Fatalf("state %v after five failed completions, want open", got)
			}
		})
	})
}

// TestRefusal checks the error and the side effects of a refused request.
func TestRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &scripted{}
		var rejected []string
		tr := New(base, Settings{}, WithHooks(Hooks{OnReject: func(h string) { rejected = append(rejected, h) }}))
		run(t, tr, host, "FFFFF")
		time.Sleep(2500 * time.Millisecond)

		body := &closeTracker{Reader: strings.NewReader("{}")}
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
		if !errors.As(err, &oe) || oe.Host != "http://h:8080" || oe.State != Open || oe.Remaining != 7500*time.Millisecond {
			t.Fatalf("OpenError %+v", oe)
		}
		if k := verdict.Of(req, nil, err).Kind; k != verdict.Refused {
			t.Fatalf("verdict %v, want refused", k)
		}
		if body.closed.Load() != 1 {
			t.Fatalf("body closed %d times, want 1", body.closed.Load())
		}
		if base.hits.Load() != 5 {
			t.Fatal("a refused request reached the host")
		}
		if req.URL != orig.URL || req.Body != orig.Body || req.Header.Get("X-Keep") != "1" || len(req.Header) != 1 {
			t.Fatal("request modified")
		}
		if len(rejected) != 1 || rejected[0] != host {
			t.Fatalf("OnReject calls %q", rejected)
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
		tr := New(&scripted{}, Settings{})
		run(t, tr, "a:80", "FFFFF")
		if run(t, tr, "b:80", "SFSFS") != 0 || tr.State("b:80") != Closed {
			t.Fatal("b affected by a's breaker")
		}
		for _, h := range []string{"a", "A:80", "a:80"} {
			if run(t, tr, h, "S") != 1 {
				t.Fatalf("%s not refused", h)
			}
		}
		for _, h := range []string{"a:80", "http://a", "http://A:80/x"} {
			if got := tr.State(h); got != Open {
				t.Fatalf("State(%q) = %v", h, got)
			}
		}
		if got := tr.State("unknown:80"); got != Closed {
			t.Fatalf("unknown host: %v", got)
		}
		// https on the default port is another host.
		req, _ := http.NewRequest("GET", "https://a/", nil)
		if n := tr.State(verdict.HostOf(req).String()); n != Closed {
			t.Fatalf("https://a:443 is %v", n)
		}
	})
}

// TestEvict checks the bound on hosts and which breaker gives way.
func TestEvict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var evicted []string
		tr := New(&scripted{}, Settings{MaxHosts: 2}, WithHooks(Hooks{OnEvict: func(h string) { evicted = append(evicted, h) }}))
		run(t, tr, "a:80", "FFFFF") // open: kept
		run(t, tr, "b:80", "S")
		run(t, tr, "c:80", "S") // b, the only closed one, goes
		if len(evicted) != 1 || evicted[0] != "b:80" {
			t.Fatalf("evicted %q, want b:80", evicted)
		}
		run(t, tr, "d:80", "S") // c goes, though used: a is open
		if len(evicted) != 2 || evicted[1] != "c:80" {
			t.Fatalf("evicted %q, want b:80 c:80", evicted)
		}
		if tr.State("a:80") != Open {
			t.Fatal("open breaker evicted while closed ones could go")
		}
		run(t, tr, "e:80", "FFFFF")
		run(t, tr, "f:80", "FFFFF") // a and e are open: one of them goes
		if len(evicted) != 4 {
			t.Fatalf("evicted %q", evicted)
		}
		tr.mu.Lock()
		n, keys := len(tr.labels), len(*tr.hosts.Load())
		tr.mu.Unlock()
		if n != 2 || keys != 2 {
			t.Fatalf("%d breakers under %d keys, want 2", n, keys)
		}
		// A host that comes back starts closed.
		if run(t, tr, "b:80", "S") != 0 {
			t.Fatal("b refused after coming back")
		}
	})
}

// TestEvictPrefersIdle checks the second chance of the clock algorithm:
// a closed breaker used since the last scan stays, an idle one goes.
func TestEvictPrefersIdle(t *testing.T) {
	var evicted []string
	tr := New(&scripted{}, Settings{MaxHosts: 3}, WithHooks(Hooks{OnEvict: func(h string) { evicted = append(evicted, h) }}))
	run(t, tr, "a:80", "S")
	run(t, tr, "b:80", "S")
	run(t, tr, "c:80", "S")
	run(t, tr, "d:80", "S") // all used: one goes, the scan clears the others' marks
	run(t, tr, "d:80", "S")
	tr.mu.Lock()
	var busy string
	for l := range tr.labels {
		if l != "d:80" {
			busy = l
			break
		}
	}
	tr.mu.Unlock()
	run(t, tr, busy, "S")
	run(t, tr, "e:80", "S")
	if len(evicted) != 2 {
		t.Fatalf("evicted %q", evicted)
	}
	if evicted[1] == busy || evicted[1] == "d:80" {
		t.Fatalf("%s evicted though it was used since the last scan", evicted[1])
	}
}

// TestAliasBound checks that a host spelt in more ways than the key bound
// allows still shares its breaker.
func TestAliasBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := New(&scripted{}, Settings{MaxHosts: 2})
		spellings := []string{"ab:80", "aB:80", "Ab:80", "AB:80", "ab", "aB", "Ab", "AB"}
		for _, h := range spellings[:5] {
			run(t, tr, h, "F")
		}
		for _, h := range spellings {
			if run(t, tr, h, "S") != 1 {
				t.Fatalf("%s not refused", h)
			}
		}
		if keys := len(*tr.hosts.Load()); keys > 4 {
			t.Fatalf("%d keys, want at most 4", keys)
		}
	})
}

// TestHooks checks the order of the transitions delivered, and that a hook
// may call State without deadlocking.
func TestHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			tr     *Transport
			mu     sync.Mutex
			got    []string
			inHook bool
		)
		tr = New(&scripted{}, Settings{}, WithHooks(Hooks{
			OnStateChange: func(h string, from, to State) {
				mu.Lock()
				if inHook {
					t.Error("overlapping OnStateChange calls")
				}
				inHook = true
				mu.Unlock()
				s := tr.State(h) // must not deadlock
				mu.Lock()
				got = append(got, h+" "+from.String()+">"+to.String()+" ("+s.String()+")")
				inHook = false
				mu.Unlock()
			},
			OnReject: func(h string) {
				mu.Lock()
				got = append(got, h+" reject")
				mu.Unlock()
			},
		}))
		run(t, tr, host, "FFFFFS")
		time.Sleep(DefaultOpenTimeout + time.Millisecond)
		run(t, tr, host, "F") // probe fails
		time.Sleep(DefaultOpenTimeout + time.Millisecond)
		if s := tr.State(host); s != HalfOpen { // State moves it on
			t.Fatalf("state %v", s)
		}
		run(t, tr, host, "S")
		want := []string{
			"h:8080 closed>open (open)",
			"h:8080 reject",
			"h:8080 open>half-open (open)",
			"h:8080 half-open>open (open)",
			"h:8080 open>half-open (half-open)",
			"h:8080 half-open>closed (closed)",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("hooks saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestHookPanic checks that a panicking hook does not stop later
// transitions from being delivered.
func TestHookPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []string
		tr := New(&scripted{}, Settings{}, WithHooks(Hooks{OnStateChange: func(h string, from, to State) {
			got = append(got, to.String())
			if to == Open && len(got) == 1 {
				panic("hook")
			}
		}}))
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			run(t, tr, host, "FFFFF")
		}()
		time.Sleep(DefaultOpenTimeout + time.Millisecond)
		run(t, tr, host, "S")
		if want := "open half-open closed"; strings.Join(got, " ") != want {
			t.Fatalf("hooks saw %q, want %q", got, want)
		}
	})
}

// TestContract checks the answers of a next RoundTripper that breaks its
// contract.
func TestContract(t *testing.T) {
	body := &closeTracker{Reader: strings.NewReader("")}
	both := rtFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: body}, errReset
	})
	resp, err := New(both, Settings{}).RoundTrip(request(t, host, "/", "S"))
	if resp != nil || !errors.Is(err, errReset) || body.closed.Load() != 1 {
		t.Fatalf("response and error: got %v, %v, body closed %d times", resp, err, body.closed.Load())
	}
	neither := rtFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
	tr := New(neither, Settings{})
	resp, err = tr.RoundTrip(request(t, host, "/", "S"))
	if resp != nil || !errors.Is(err, errNoResponse) {
		t.Fatalf("neither: got %v, %v", resp, err)
	}
	run(t, tr, host, "SSSS")
	if tr.State(host) != Open {
		t.Fatal("an empty answer did not count as a failure")
	}
}

// TestDisabled checks that a disabled breaker passes everything.
func TestDisabled(t *testing.T) {
	base := &scripted{}
	tr := New(base, Settings{Disabled: true}, WithHooks(Hooks{OnStateChange: func(string, State, State) { t.Error("hook called") }}))
	if run(t, tr, host, strings.Repeat("F", 50)) != 0 || base.hits.Load() != 50 {
		t.Fatal("disabled breaker refused")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		give Settings
		want string // the field named, "" when valid
	}{
		{Settings{}, ""},
		{Settings{Window: time.Second, Bucket: 100 * time.Millisecond, FailureRatio: 1, MinRequests: 1, ConsecutiveFailures: 1, OpenTimeout: time.Millisecond, MaxOpenTimeout: -1, Probes: 3, MaxHosts: 1}, ""},
		{Settings{FailureRatio: -1}, ""},
		{Settings{ConsecutiveFailures: -1}, ""},
		{Settings{Window: time.Second, Bucket: time.Second}, ""},
		{Settings{Window: -1}, "Window"},
		{Settings{Bucket: -1}, "Bucket"},
		{Settings{Bucket: 11 * time.Second}, "Bucket"},
		{Settings{FailureRatio: 1.5}, "FailureRatio"},
		{Settings{FailureRatio: -1, ConsecutiveFailures: -1}, "FailureRatio"},
		{Settings{MinRequests: -1}, "MinRequests"},
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
		case tt.want != "" && (!errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: %v, want an error naming %s", tt.give, err, tt.want)
		}
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
		ConsecutiveFailures: 5, OpenTimeout: 10 * time.Second, MaxOpenTimeout: time.Minute,
		Probes: 1, MaxHosts: 1024,
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
	tr := New(rtFunc(func(*http.Request) (*http.Response, error) { return ok, nil }), Settings{},
		WithHooks(Hooks{OnStateChange: func(string, State, State) {}, OnReject: func(string) {}}))
	req, _ := http.NewRequest("GET", "http://h:8080/v2/topology", nil)
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
	next := &idleCloser{RoundTripper: &scripted{}}
	c := &http.Client{Transport: New(next, Settings{})}
	c.CloseIdleConnections()
	if next.closed != 1 {
		t.Fatalf("CloseIdleConnections reached the next RoundTripper %d times", next.closed)
	}
	New(rtFunc(nil), Settings{}).CloseIdleConnections() // no such method: nothing happens
	if New(nil, Settings{}).next != http.DefaultTransport {
		t.Fatal("nil next is not http.DefaultTransport")
	}
}
