package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/internal/hosts"
	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/verdict"
)

const rexhausted = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,"detail":"Expected to handle request, but all retries have been exhausted"}`

type step = testkit.Step

var (
	answer       = testkit.Respond
	ok200        = testkit.OK
	backpressure = testkit.Respond(503, "application/problem+json", rexhausted)
	tooMany      = testkit.TooManyRequests
	unavailable  = testkit.Unavailable
	badGateway   = testkit.BadGateway
	timeout504   = testkit.GatewayTimeout
	plain500     = testkit.ServerError
	notFound     = testkit.NotFound
	outOfDisk    = testkit.OutOfDisk
	refused      = testkit.DialRefused
	reset        = testkit.Reset
)

func newReq(t *testing.T, ctx context.Context, method, path, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://gw.test:8080"+path, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestRetryDecisions(t *testing.T) {
	tests := []struct {
		name         string
		method, path string
		first        step
		wantAttempts int
	}{
		{"success", "POST", "/v2/process-instances", ok200, 1},
		{"client error", "GET", "/v2/jobs/1", notFound, 1},
		{"backpressure POST", "POST", "/v2/process-instances", backpressure, 2},
		{"429 POST", "POST", "/v2/messages/publication", tooMany, 2},
		{"out of disk", "POST", "/v2/process-instances", outOfDisk, 1},
		{"unavailable GET", "GET", "/v2/topology", unavailable, 2},
		{"unavailable POST unsafe", "POST", "/v2/process-instances", unavailable, 1},
		{"unavailable POST safe route", "POST", "/v2/jobs/activation", unavailable, 2},
		{"unavailable POST idempotency key", "POST", "/v2/process-instances", unavailable, 2},
		{"502 PUT", "PUT", "/x", badGateway, 2},
		{"504 POST unsafe", "POST", "/v2/messages/publication", timeout504, 1},
		{"504 POST completion", "POST", "/v2/jobs/7/completion", timeout504, 2},
		{"plain 500", "GET", "/v2/topology", plain500, 1},
		{"reset POST unsafe", "POST", "/v2/process-instances", reset, 1},
		{"reset DELETE", "DELETE", "/x/1", reset, 2},
		{"refused dial POST unsafe", "POST", "/v2/process-instances", refused, 2},
		{"job error not safe", "POST", "/v2/jobs/7/error", unavailable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := testkit.NewScript(tt.first, ok200)
				rt := New(s, Policy{})
				req := newReq(t, t.Context(), tt.method, tt.path, `{"a":1}`)
				if strings.Contains(tt.name, "idempotency") {
					req.Header.Set("Idempotency-Key", "k-1")
				}
				resp, err := rt.RoundTrip(req)
				if got := s.Count(); got != tt.wantAttempts {
					t.Fatalf("attempts = %d, want %d", got, tt.wantAttempts)
				}
				if (resp == nil) == (err == nil) {
					t.Fatalf("want exactly one of response and error: %v, %v", resp, err)
				}
				if resp != nil {
					resp.Body.Close()
				}
			})
		})
	}
}

func TestDelaysGrowWithinJitterBand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(backpressure)
		rt := New(s, Policy{MaxAttempts: 8, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second})
		resp, err := rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
		if err != nil || resp.StatusCode != 503 {
			t.Fatalf("want the last 503 with nil error, got %v, %v", resp, err)
		}
		resp.Body.Close()
		if s.Count() != 8 {
			t.Fatalf("attempts = %d, want 8", s.Count())
		}
		mean := 100 * time.Millisecond
		for i := 1; i < len(s.Calls()); i++ {
			d := s.Calls()[i].At.Sub(s.Calls()[i-1].At)
			lo, hi := time.Duration(float64(mean)*0.5), time.Duration(float64(mean)*1.5)
			if d < lo || d > hi {
				t.Errorf("delay %d = %v, want within [%v, %v]", i, d, lo, hi)
			}
			mean = min(mean*2, time.Second)
		}
		// Every discarded response was drained and closed.
		for i, b := range s.Bodies()[:len(s.Bodies())-1] {
			if !b.Closed() || b.BytesRead() == 0 {
				t.Errorf("response %d: closed=%v read=%d", i, b.Closed(), b.BytesRead())
			}
		}
	})
}

func TestNoRandomization(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(tooMany)
		rt := New(s, Policy{MaxAttempts: 4, RandomizationFactor: -1, InitialInterval: 10 * time.Millisecond, Multiplier: 3})
		resp, _ := rt.RoundTrip(newReq(t, t.Context(), "GET", "/", ""))
		resp.Body.Close()
		want := []time.Duration{10 * time.Millisecond, 30 * time.Millisecond, 90 * time.Millisecond}
		for i, w := range want {
			if d := s.Calls()[i+1].At.Sub(s.Calls()[i].At); d != w {
				t.Errorf("delay %d = %v, want %v", i, d, w)
			}
		}
	})
}

func TestRetryAfter(t *testing.T) {
	t.Run("floors the delay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := testkit.NewScript(answer(429, "", "", "Retry-After", "3"), ok200)
			var ev []Event
			rt := New(s, Policy{}, WithHooks(Hooks{OnRetry: func(e Event) { ev = append(ev, e) }}))
			resp, err := rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
			if err != nil || resp.StatusCode != 200 {
				t.Fatal(resp, err)
			}
			if d := s.Calls()[1].At.Sub(s.Calls()[0].At); d != 3*time.Second {
				t.Fatalf("delay = %v, want the Retry-After of 3s", d)
			}
			if len(ev) != 1 || ev[0].Source != SourceRetryAfter || ev[0].Delay != 3*time.Second {
				t.Fatalf("retry events = %+v", ev)
			}
		})
	})
	t.Run("shorter than the backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := testkit.NewScript(answer(429, "", "", "Retry-After", "0"), ok200)
			rt := New(s, Policy{RandomizationFactor: -1})
			resp, _ := rt.RoundTrip(newReq(t, t.Context(), "GET", "/", ""))
			resp.Body.Close()
			if d := s.Calls()[1].At.Sub(s.Calls()[0].At); d != 100*time.Millisecond {
				t.Fatalf("delay = %v, want the backoff's 100ms", d)
			}
		})
	})
	t.Run("garbage ignored", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := testkit.NewScript(answer(429, "", "", "Retry-After", "-5"), ok200)
			rt := New(s, Policy{RandomizationFactor: -1})
			resp, _ := rt.RoundTrip(newReq(t, t.Context(), "GET", "/", ""))
			resp.Body.Close()
			if d := s.Calls()[1].At.Sub(s.Calls()[0].At); d != 100*time.Millisecond {
				t.Fatalf("delay = %v", d)
			}
		})
	})
	t.Run("above the cap returns at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := testkit.NewScript(answer(503, "application/problem+json", rexhausted, "Retry-After", "31"), ok200)
			var done []Event
			rt := New(s, Policy{}, WithHooks(Hooks{OnDone: func(e Event) { done = append(done, e) }}))
			start := time.Now()
			resp, err := rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
			if err != nil || resp.StatusCode != 503 || s.Count() != 1 || time.Since(start) != 0 {
				t.Fatalf("want the 503 at once after 1 attempt: %v %v attempts=%d after %v", resp, err, s.Count(), time.Since(start))
			}
			if got, _ := io.ReadAll(resp.Body); string(got) != rexhausted {
				t.Fatalf("body = %q", got)
			}
			if len(done) != 1 || done[0].Stop != StopRetryAfter {
				t.Fatalf("done = %+v", done)
			}
		})
	})
	t.Run("http date", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			at := time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
			s := testkit.NewScript(answer(429, "", "", "Retry-After", at), ok200)
			rt := New(s, Policy{})
			resp, _ := rt.RoundTrip(newReq(t, t.Context(), "GET", "/", ""))
			resp.Body.Close()
			// HTTP-dates have whole seconds: the wait ends at that second.
			if d := s.Calls()[1].At.Sub(s.Calls()[0].At); d <= time.Second || d > 2*time.Second {
				t.Fatalf("delay = %v, want (1s, 2s]", d)
			}
		})
	})
}

func TestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(backpressure)
		var done []Event
		rt := New(s, Policy{MaxAttempts: 10, RandomizationFactor: -1}, WithHooks(Hooks{OnDone: func(e Event) { done = append(done, e) }}))
		ctx, cancel := context.WithTimeout(t.Context(), 1*time.Second)
		defer cancel()
		start := time.Now()
		resp, err := rt.RoundTrip(newReq(t, ctx, "POST", "/v2/process-instances", "{}"))
		// Attempts at 0, 100ms, 300ms, 700ms; the next would be at 1.5s.
		if err != nil || resp.StatusCode != 503 {
			t.Fatalf("want the last 503, got %v %v", resp, err)
		}
		resp.Body.Close()
		if s.Count() != 4 || time.Since(start) != 700*time.Millisecond {
			t.Fatalf("attempts = %d after %v, want 4 after 700ms", s.Count(), time.Since(start))
		}
		if done[0].Stop != StopDeadline || done[0].Attempt != 4 {
			t.Fatalf("done = %+v", done[0])
		}
	})
}

func TestCancelDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(answer(429, "", "", "Retry-After", "10"), ok200)
		var done Event
		rt := New(s, Policy{}, WithHooks(Hooks{OnDone: func(e Event) { done = e }}))
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		resp, err := rt.RoundTrip(newReq(t, ctx, "POST", "/v2/process-instances", "{}"))
		if resp != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v, %v", resp, err)
		}
		if time.Since(start) != 50*time.Millisecond || s.Count() != 1 {
			t.Fatalf("returned after %v with %d attempts", time.Since(start), s.Count())
		}
		var re *Error
		if !errors.As(err, &re) || re.Attempts != 1 || re.Host != "gw.test:8080" {
			t.Fatalf("err = %#v", err)
		}
		if !s.Bodies()[0].Closed() {
			t.Fatal("the discarded 429 was not closed")
		}
		// The request's outcome is the cancellation, not the 429 before it.
		if done.Stop != StopCanceled || done.Verdict.Kind != verdict.Canceled {
			t.Fatalf("done: stop %v, verdict %v; want canceled, canceled", done.Stop, done.Verdict.Kind)
		}
	})
}

func TestAttemptsExact(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 7} {
		synctest.Test(t, func(t *testing.T) {
			s := testkit.NewScript(backpressure)
			rt := New(s, Policy{MaxAttempts: n})
			resp, err := rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
			if err != nil || resp.StatusCode != 503 || s.Count() != n {
				t.Fatalf("MaxAttempts %d: attempts %d, %v %v", n, s.Count(), resp, err)
			}
			resp.Body.Close()
		})
	}
}

func TestTransportErrorAfterAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(refused)
		rt := New(s, Policy{MaxAttempts: 3})
		resp, err := rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
		if resp != nil || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("want ECONNREFUSED, got %v %v", resp, err)
		}
		if want := "retry: gw.test:8080: 3 attempts: dial tcp: connection refused"; err.Error() != want {
			t.Fatalf("err = %q, want %q", err, want)
		}
	})
}

func TestBodyReplayAndRequestUntouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(backpressure, tooMany, ok200)
		rt := New(s, Policy{})
		const payload = `{"processDefinitionId":"order","variables":{"n":1}}`
		req := newReq(t, t.Context(), "POST", "/v2/process-instances", payload)
		req.Header.Set("X-Trace", "t1")
		before := *req
		beforeHeader := req.Header.Clone()
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatal(resp, err)
		}
		for i, c := range s.Calls() {
			if string(c.Body) != payload {
				t.Errorf("attempt %d body = %q", i, c.Body)
			}
			if c.Header.Get("X-Trace") != "t1" {
				t.Errorf("attempt %d lost a header", i)
			}
			if i > 0 && c.Req == req {
				t.Errorf("attempt %d reused the caller's request", i)
			}
		}
		if s.Calls()[0].Req != req {
			t.Error("first attempt should send the caller's request")
		}
		after := *req
		if after.Body != before.Body || after.URL != before.URL || after.Method != before.Method || !reflect.DeepEqual(req.Header, beforeHeader) || after.ContentLength != before.ContentLength {
			t.Fatal("the caller's request was modified")
		}
	})
}

func TestNonReplayableBodySentOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(backpressure, ok200)
		var done []Event
		rt := New(s, Policy{}, WithHooks(Hooks{OnDone: func(e Event) { done = append(done, e) }}))
		req := newReq(t, t.Context(), "POST", "/v2/process-instances", "")
		req.Body = io.NopCloser(io.MultiReader(strings.NewReader("streamed")))
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 503 || s.Count() != 1 {
			t.Fatalf("want one attempt and its 503: %d, %v %v", s.Count(), resp, err)
		}
		if done[0].Stop != StopBody {
			t.Fatalf("stop = %v", done[0].Stop)
		}
	})
}

func TestGetBodyFailureReturnsResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(backpressure, ok200)
		rt := New(s, Policy{})
		req := newReq(t, t.Context(), "POST", "/v2/process-instances", "{}")
		req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 503 || s.Count() != 1 {
			t.Fatalf("got %d attempts, %v %v", s.Count(), resp, err)
		}
		if got, _ := io.ReadAll(resp.Body); string(got) != rexhausted {
			t.Fatalf("the returned response must be intact, got %q", got)
		}
	})
}

func TestPerRequestAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tt := range []struct {
			ctx  context.Context
			want int
		}{
			{WithoutRetry(t.Context()), 1},
			{WithMaxAttempts(t.Context(), 2), 2},
			{WithMaxAttempts(t.Context(), 9), 9},
			{WithMaxAttempts(t.Context(), -3), 1},
		} {
			s := testkit.NewScript(tooMany)
			rt := New(s, Policy{})
			resp, _ := rt.RoundTrip(newReq(t, tt.ctx, "GET", "/", ""))
			resp.Body.Close()
			if s.Count() != tt.want {
				t.Errorf("attempts = %d, want %d", s.Count(), tt.want)
			}
		}
	})
}

func TestBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A host that is down for GETs: without a budget, 100 requests
		// would make 500 attempts.
		s := testkit.NewScript(unavailable)
		var exhausted int
		rt := New(s, Policy{BudgetRatio: 0.2, BudgetReserve: 10}, WithHooks(Hooks{OnDone: func(e Event) {
			if e.Stop == StopBudget {
				exhausted++
			}
		}}))
		const n = 100
		for range n {
			resp, err := rt.RoundTrip(newReq(t, t.Context(), "GET", "/v2/topology", ""))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		retries := s.Count() - n
		// The reserve of 10, then 0.2 a request: one retry every fifth
		// request once it is spent. The bucket is exact arithmetic, so
		// the count is too: 10 from the reserve, 19 earned over the 99
		// requests after the first.
		if retries != 29 {
			t.Fatalf("retries = %d for %d requests, want 29 (reserve 10 + 0.2 per request)", retries, n)
		}
		if exhausted == 0 {
			t.Fatal("no request reported an exhausted budget")
		}

		// Backpressure does not draw on it.
		s2 := testkit.NewScript(backpressure)
		rt2 := New(s2, Policy{BudgetRatio: 0.2, BudgetReserve: 1})
		for range 10 {
			resp, _ := rt2.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
			resp.Body.Close()
		}
		if s2.Count() != 50 {
			t.Fatalf("backpressure attempts = %d, want 10 requests x 5 attempts", s2.Count())
		}

		// Turned off, every request gets its attempts.
		s3 := testkit.NewScript(unavailable)
		rt3 := New(s3, Policy{BudgetRatio: -1})
		for range 20 {
			resp, _ := rt3.RoundTrip(newReq(t, t.Context(), "GET", "/", ""))
			resp.Body.Close()
		}
		if s3.Count() != 100 {
			t.Fatalf("attempts without budget = %d, want 100", s3.Count())
		}
	})
}

func TestHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(backpressure, ok200)
		var log []string
		rt := New(s, Policy{RandomizationFactor: -1}, WithHooks(Hooks{
			OnAttempt: func(e Event) { log = append(log, "attempt "+e.Verdict.Kind.String()+" "+e.Host) },
			OnRetry: func(e Event) {
				log = append(log, "retry "+e.Verdict.Kind.String()+" "+e.Delay.String()+" "+e.Source.String())
			},
			OnDone: func(e Event) { log = append(log, "done "+e.Stop.String()+" "+string(rune('0'+e.Attempt))) },
		}))
		resp, _ := rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
		resp.Body.Close()
		want := []string{
			"attempt backpressure gw.test:8080",
			"retry backpressure 100ms backoff",
			"attempt success gw.test:8080",
			"done answered 2",
		}
		if !reflect.DeepEqual(log, want) {
			t.Fatalf("hooks:\n%q\nwant\n%q", log, want)
		}
	})
}

func TestPolicyValidate(t *testing.T) {
	bad := []Policy{
		{MaxAttempts: -1},
		{InitialInterval: -time.Second},
		{MaxInterval: -time.Second},
		{Multiplier: 0.5},
		{RandomizationFactor: 1.5},
		{MaxRetryAfter: -1},
		{BudgetReserve: -1},
		{InitialInterval: 10 * time.Second}, // above the default cap of 5s
	}
	for _, p := range bad {
		if err := p.Validate(); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%+v: Validate = %v", p, err)
		}
	}
	if err := (Policy{}).Validate(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("New with a bad policy must panic")
		}
	}()
	New(nil, Policy{Multiplier: 0.1})
}

func TestDefaults(t *testing.T) {
	got := New(nil, Policy{}).Policy()
	want := Policy{MaxAttempts: 5, InitialInterval: 100 * time.Millisecond, MaxInterval: 5 * time.Second, Multiplier: 2,
		RandomizationFactor: 0.5, MaxRetryAfter: 30 * time.Second, BudgetRatio: 0.2, BudgetReserve: 10}
	if got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
}

func TestManyHostsBounded(t *testing.T) {
	synctest.Test(t, manyHostsBounded)
}

func manyHostsBounded(t *testing.T) {
	rt := New(testkit.NewScript(testkit.Unavailable), Policy{})
	for i := range hosts.DefaultMax + 50 {
		// A 503 to a GET draws on the budget, so no host is forgettable
		// until its budget refills.
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://h%d.test/x", i), nil)
		resp, err := rt.RoundTrip(retry1(req))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := len(rt.Stats()); n != hosts.DefaultMax {
		t.Fatalf("hosts = %d, want %d", n, hosts.DefaultMax)
	}
}

// retry1 lets req be retried once, so that each host's budget is drawn on.
func retry1(req *http.Request) *http.Request {
	return req.WithContext(WithMaxAttempts(req.Context(), 2))
}

type idleCloser struct {
	testkit.Script
	closed bool
}

func (c *idleCloser) CloseIdleConnections() { c.closed = true }

func TestCloseIdleConnectionsPassesThrough(t *testing.T) {
	base := &idleCloser{}
	(&http.Client{Transport: New(base, Policy{})}).CloseIdleConnections()
	if !base.closed {
		t.Fatal("CloseIdleConnections did not reach the next RoundTripper")
	}
}

// blockUntilDone stands for a layer below that holds an attempt back (the
// limiter waiting for a permit) until the request's context ends.
func blockUntilDone(req *http.Request) (*http.Response, error) {
	<-req.Context().Done()
	return nil, req.Context().Err()
}

// waitForPermit stands for the limiter below holding an attempt back until
// the request's context ends: the attempt never leaves the process.
func waitForPermit(req *http.Request) (*http.Response, error) {
	<-req.Context().Done()
	return nil, fmt.Errorf("limiter: waiting for a permit: %w", errors.Join(verdict.ErrNotSent, req.Context().Err()))
}

func TestDeadlineWhileNextAttemptWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(backpressure, waitForPermit)
		var done []Event
		rt := New(s, Policy{}, WithHooks(Hooks{OnDone: func(e Event) { done = append(done, e) }}))
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		resp, err := rt.RoundTrip(newReq(t, ctx, "POST", "/v2/process-instances", "{}"))
		if err != nil || resp == nil || resp.StatusCode != 503 {
			t.Fatalf("want the last 503 with a nil error, got %v, %v", resp, err)
		}
		if got, _ := io.ReadAll(resp.Body); string(got) != rexhausted {
			t.Fatalf("kept body = %q", got)
		}
		if time.Since(start) != 500*time.Millisecond || s.Count() != 2 {
			t.Fatalf("returned after %v and %d attempts", time.Since(start), s.Count())
		}
		if len(done) != 1 || done[0].Stop != StopDeadline || done[0].Verdict.Kind != verdict.Backpressure {
			t.Fatalf("done = %+v", done)
		}
	})
}

// TestDeadlineWhileNextAttemptOnServer is issue 9's first defect: when the
// deadline passes while a retry is on the server, which may carry it out,
// the caller must not be told the previous refusal ("nothing happened").
func TestDeadlineWhileNextAttemptOnServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(backpressure, blockUntilDone)
		rt := New(s, Policy{})
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		resp, err := rt.RoundTrip(newReq(t, ctx, "POST", "/v2/process-instances", "{}"))
		if resp != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("an attempt that may have reached the server must end in the deadline error, got %v, %v", resp, err)
		}
		var re *Error
		if !errors.As(err, &re) || re.Attempts != 2 {
			t.Fatalf("error %v does not name 2 attempts", err)
		}
	})
}

func TestCancelWhileNextAttemptWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(backpressure, blockUntilDone)
		rt := New(s, Policy{})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(500*time.Millisecond, cancel)
		resp, err := rt.RoundTrip(newReq(t, ctx, "POST", "/v2/process-instances", "{}"))
		if resp != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("a caller's cancellation must end in its error, got %v, %v", resp, err)
		}
	})
}

func TestLargeAnswerNotKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		big := answer(503, "application/problem+json", `{"title":"RESOURCE_EXHAUSTED","detail":"`+strings.Repeat("x", 8<<10)+`"}`)
		s := testkit.NewScript(big, blockUntilDone)
		rt := New(s, Policy{})
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		resp, err := rt.RoundTrip(newReq(t, ctx, "POST", "/v2/process-instances", "{}"))
		if resp != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("an answer too large to keep cannot come back: %v, %v", resp, err)
		}
		if !s.Bodies()[0].Closed() {
			t.Fatal("the large answer was not closed")
		}
	})
}

// TestPanickingHookClosesResponse: a hook that panics while the layer holds
// a response leaves no connection behind (issue 9, defect 6).
func TestPanickingHookClosesResponse(t *testing.T) {
	for _, name := range []string{"OnAttempt", "OnDone"} {
		t.Run(name, func(t *testing.T) {
			s := testkit.NewScript(ok200)
			boom := func(Event) { panic("hook") }
			var h Hooks
			if name == "OnAttempt" {
				h.OnAttempt = boom
			} else {
				h.OnDone = boom
			}
			rt := New(s, Policy{}, WithHooks(h))
			func() {
				defer func() {
					if recover() != "hook" {
						t.Fatal("the hook's panic did not reach the caller")
					}
				}()
				rt.RoundTrip(newReq(t, t.Context(), "GET", "/v2/topology", ""))
			}()
			if !s.Bodies()[0].Closed() {
				t.Fatal("the response held when the hook panicked was not closed")
			}
		})
	}
}

func TestEventCarriesRouteAndElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []Event
		rec := func(e Event) { got = append(got, e) }
		rt := New(testkit.NewScript(backpressure, ok200), Policy{RandomizationFactor: -1},
			WithHooks(Hooks{OnAttempt: rec, OnRetry: rec, OnDone: rec}))
		resp, err := rt.RoundTrip(newReq(t, t.Context(), "POST", "/zeebe/v2/jobs/2251799813685249/failure", "{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(got) != 4 {
			t.Fatalf("events = %d, want attempt, retry, attempt, done", len(got))
		}
		for _, e := range got {
			if e.Route.Template != "/v2/jobs/{jobKey}/failure" || !e.Route.Drain() {
				t.Fatalf("event route = %+v", e.Route)
			}
		}
		if done := got[3]; done.Elapsed != 100*time.Millisecond || done.Attempt != 2 {
			t.Fatalf("done: elapsed %v, attempt %d; want 100ms, 2", done.Elapsed, done.Attempt)
		}
		resp, _ = rt.RoundTrip(newReq(t, t.Context(), "GET", "/api/orders/1234567", ""))
		resp.Body.Close()
		if last := got[len(got)-1]; last.Route.Template != "" {
			t.Fatalf("other API templated as %q, want none", last.Route.Template)
		}
	})
}

func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A GET whose first attempt never answers is retried after the
		// attempt's bound; the second answers.
		s := testkit.NewScript(blockUntilDone, ok200)
		rt := New(s, Policy{AttemptTimeout: 2 * time.Second, RandomizationFactor: -1})
		start := time.Now()
		resp, err := rt.RoundTrip(newReq(t, t.Context(), "GET", "/v2/topology", ""))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("got %v, %v", resp, err)
		}
		if _, err := io.ReadAll(resp.Body); err != nil {
			t.Fatalf("the body of the answer must outlive RoundTrip: %v", err)
		}
		resp.Body.Close()
		if d := time.Since(start); d != 2*time.Second+100*time.Millisecond {
			t.Fatalf("took %v, want 2.1s (bound, then the first delay)", d)
		}

		// A POST that runs out of time may have been carried out: not
		// retried, and a transport error rather than a cancellation.
		s = testkit.NewScript(blockUntilDone)
		rt = New(s, Policy{AttemptTimeout: time.Second})
		_, err = rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
		if !errors.Is(err, context.DeadlineExceeded) || s.Count() != 1 {
			t.Fatalf("POST timing out: %v after %d attempts", err, s.Count())
		}

		// A POST whose bound runs out while it waits below for a permit
		// (as the limiter reports it: nothing sent) was not carried out:
		// it is sent again, and the second attempt answers.
		waitPermit := func(req *http.Request) (*http.Response, error) {
			<-req.Context().Done()
			return nil, fmt.Errorf("limiter: waiting for a permit: %w", errors.Join(verdict.ErrNotSent, context.Cause(req.Context())))
		}
		s = testkit.NewScript(waitPermit, ok200)
		rt = New(s, Policy{AttemptTimeout: time.Second, RandomizationFactor: -1})
		start = time.Now()
		resp, err = rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
		if err != nil || resp.StatusCode != 200 || s.Count() != 2 {
			t.Fatalf("POST timing out in the permit wait: %v, %v after %d attempts; want 200 after 2", resp, err, s.Count())
		}
		resp.Body.Close()
		if d := time.Since(start); d != time.Second+100*time.Millisecond {
			t.Fatalf("took %v, want 1.1s (bound, then the first delay)", d)
		}

		// A long poll gets its requestTimeout on top of the bound.
		s = testkit.NewScript(func(req *http.Request) (*http.Response, error) {
			select {
			case <-time.After(20 * time.Second):
				return testkit.OK(req)
			case <-req.Context().Done():
				return nil, req.Context().Err()
			}
		})
		rt = New(s, Policy{AttemptTimeout: time.Second})
		resp, err = rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/jobs/activation", `{"type":"t","maxJobsToActivate":1,"requestTimeout":"20000"}`))
		if err != nil {
			t.Fatalf("a 20s long poll was cut short by a 1s attempt bound: %v", err)
		}
		resp.Body.Close()
	})
}

func TestPolicyRejectsNonFinite(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, p := range []Policy{
		{Multiplier: nan}, {Multiplier: inf},
		{RandomizationFactor: nan}, {RandomizationFactor: math.Inf(-1)},
		{BudgetRatio: nan}, {BudgetRatio: inf},
	} {
		if err := p.Validate(); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("Validate(%+v) = %v, want an invalid policy", p, err)
		}
	}
}

func TestStats(t *testing.T) { synctest.Test(t, stats) }

func stats(t *testing.T) {
	rt := New(testkit.NewScript(testkit.Unavailable), Policy{})
	req, _ := http.NewRequest("GET", "http://Gateway.test/v2/topology", nil)
	resp, err := rt.RoundTrip(retry1(req))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	st := rt.Stats()
	if len(st) != 1 || st[0].Host != "gateway.test:80" || st[0].Budget != 9 {
		t.Fatalf("Stats = %+v, want gateway.test:80 with a full budget of 10 less the retry", st)
	}
}

// stallingBody yields nothing until it is closed, as the body of a server
// that sent its headers and stalled.
type stallingBody struct{ closed chan struct{} }

func (b *stallingBody) Read([]byte) (int, error) {
	<-b.closed
	return 0, errors.New("read on closed body")
}

func (b *stallingBody) Close() error {
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	return nil
}

// TestDrainBoundedInTime: a discarded answer whose body stalls does not hold
// the retry; it is cut off after the drain's time bound (issue 9, defect 3).
func TestDrainBoundedInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stalled := func(req *http.Request) (*http.Response, error) {
			resp := testkit.Response(req, 429, "text/html", "")
			resp.Body = &stallingBody{closed: make(chan struct{})}
			return resp, nil
		}
		s := testkit.NewScript(stalled, ok200)
		rt := New(s, Policy{RandomizationFactor: -1})
		start := time.Now()
		resp, err := rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("got %v, %v", resp, err)
		}
		resp.Body.Close()
		if d := time.Since(start); d != drainTimeout+100*time.Millisecond {
			t.Fatalf("took %v, want the drain bound %v and the first delay", d, drainTimeout)
		}
	})
}

// A long poll's wait is read from its body once per logical request, not
// once per attempt: three attempts of a job activation under an attempt
// bound take the body three times (the wait once, the two clones twice).
func TestLongPollReadOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testkit.NewScript(testkit.Unavailable, testkit.Unavailable, ok200)
		rt := New(s, Policy{AttemptTimeout: time.Second})
		req := newReq(t, t.Context(), "POST", "/v2/jobs/activation", `{"type":"t","maxJobsToActivate":1,"requestTimeout":20000}`)
		getBody, takes := req.GetBody, 0
		req.GetBody = func() (io.ReadCloser, error) { takes++; return getBody() }
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 || s.Count() != 3 {
			t.Fatalf("got %v, %v after %d attempts", resp, err, s.Count())
		}
		resp.Body.Close()
		if takes != 3 {
			t.Errorf("the body was taken %d times, want 3", takes)
		}
	})
}

// A request whose earlier attempt may have reached the server is never
// reported "refused, nothing sent", whatever its last attempt's error says:
// a job activation reset mid-request (it may have activated jobs), retried
// as it is safe to, and then refused by a full queue below. After a
// backpressure answer, which carried nothing out, the refusal stands.
func TestNotSentOnlyWhenNothingReached(t *testing.T) {
	full := testkit.Fail(fmt.Errorf("limiter: wait queue full: %w", errors.Join(verdict.ErrRefused, verdict.ErrNotSent)))
	for _, tt := range []struct {
		name    string
		first   testkit.Step
		reached bool
	}{
		{"after a reset", reset, true},
		{"after a 504", testkit.GatewayTimeout, true},
		{"after backpressure", testkit.ResourceExhausted, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := testkit.NewScript(tt.first, full)
				req := newReq(t, t.Context(), "POST", "/v2/jobs/activation", `{"type":"t","maxJobsToActivate":1}`)
				_, err := New(s, Policy{}).RoundTrip(req)
				if s.Count() != 2 {
					t.Fatalf("%d attempts, want 2", s.Count())
				}
				notSent := errors.Is(err, verdict.ErrNotSent) || errors.Is(err, verdict.ErrRefused)
				if notSent == tt.reached {
					t.Errorf("error %q matches the not-sent sentinels: %v, want %v", err, notSent, !tt.reached)
				}
				a := verdict.Of(req, nil, err)
				if tt.reached && (a.Kind != verdict.TransportError || a.NotSent) {
					t.Errorf("verdict %v NotSent=%v, want a transport error that may have been sent", a.Kind, a.NotSent)
				}
				var re *Error
				if !errors.As(err, &re) || re.Reached != tt.reached {
					t.Errorf("Reached = %v, want %v", re != nil && re.Reached, tt.reached)
				}
			})
		})
	}
}

// An Error reports a timeout as its cause does, so that http.Client's
// *url.Error, which asks its cause directly, reports one too, as it does
// with a bare http.Transport; and errors.As finds the cause's own types
// even when an earlier attempt may have reached the server, while the
// not-sent sentinels stay hidden.
func TestErrorTimeoutAndAs(t *testing.T) {
	opTimeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	notSentTimeout := fmt.Errorf("limiter: gave up waiting: %w", errors.Join(context.DeadlineExceeded, verdict.ErrNotSent))
	for _, tc := range []struct {
		name    string
		err     error
		reached bool
		timeout bool
	}{
		{"deadline", context.DeadlineExceeded, false, true},
		{"deadline while waiting for a permit", notSentTimeout, false, true},
		{"network timeout, reached", opTimeout, true, true},
		{"reset", syscall.ECONNRESET, false, false},
		{"canceled, reached", context.Canceled, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Error{Host: "gw.test:8080", Attempts: 2, Err: tc.err, Reached: tc.reached}
			if got := e.Timeout(); got != tc.timeout {
				t.Errorf("Timeout() = %v, want %v", got, tc.timeout)
			}
			ue := &url.Error{Op: "Post", URL: "http://gw.test:8080/v2/process-instances", Err: e}
			if got := ue.Timeout(); got != tc.timeout {
				t.Errorf("(*url.Error).Timeout() = %v, want %v", got, tc.timeout)
			}
		})
	}

	e := &Error{Host: "gw.test:8080", Attempts: 2, Err: fmt.Errorf("%w: %w", opTimeout, verdict.ErrNotSent), Reached: true}
	var op *net.OpError
	if !errors.As(e, &op) || op != opTimeout {
		t.Errorf("errors.As found %v, want the cause's *net.OpError", op)
	}
	var ne net.Error
	if !errors.As(e, &ne) || !ne.Timeout() {
		t.Errorf("errors.As found net.Error %v, want one that times out", ne)
	}
	if errors.Is(e, verdict.ErrNotSent) {
		t.Error("an Error whose request may have reached the server matches verdict.ErrNotSent")
	}
	if !errors.Is(e, os.ErrDeadlineExceeded) {
		t.Error("the cause's other errors no longer match")
	}
	// errors.As into error, or an interface a wrapper satisfies, must not
	// hand out a wrapper through which errors.Is finds the sentinels again:
	// here the limiter's error after a wait that ran out, as the last
	// attempt's, after an earlier attempt may have reached the server.
	e = &Error{Host: "gw.test:8080", Attempts: 2, Err: notSentTimeout, Reached: true}
	var inner interface{ Error() string } // any error; vet refuses *error
	if errors.As(e, &inner) && errors.Is(inner.(error), verdict.ErrNotSent) {
		t.Errorf("errors.As into an error found %v, which matches verdict.ErrNotSent", inner)
	}
	var multi interface{ Unwrap() []error } // the Error itself is not one
	if errors.As(e, &multi) {
		t.Errorf("errors.As found the wrapper %v, which carries verdict.ErrNotSent", multi)
	}
	if !errors.As(e, &ne) || !ne.Timeout() {
		t.Error("errors.As no longer finds the deadline as a net.Error")
	}
}

// The sentinels of local refusals say nothing was sent, so an Error whose
// request may have reached the server matches none of them, though its
// last attempt's error does; one whose request never left matches each.
func TestReachedHidesRefusals(t *testing.T) {
	for _, target := range []error{limiter.ErrQueueFull, breaker.ErrOpen} {
		if !errors.Is(target, verdict.ErrNotSent) || !errors.Is(target, verdict.ErrRefused) {
			t.Errorf("%v does not match both verdict.ErrNotSent and verdict.ErrRefused", target)
		}
		cause := fmt.Errorf("last attempt: %w", errors.Join(target, context.DeadlineExceeded))
		for _, reached := range []bool{false, true} {
			e := &Error{Host: "gw.test:8080", Attempts: 2, Err: cause, Reached: reached}
			if got := errors.Is(e, target); got == reached {
				t.Errorf("Reached=%v: errors.Is(err, %v) = %v, want %v", reached, target, got, !reached)
			}
			if !errors.Is(e, context.DeadlineExceeded) {
				t.Errorf("Reached=%v: the cause's other errors no longer match", reached)
			}
		}
	}
}
