package retry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/verdict"
)

const rexhausted = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,"detail":"Expected to handle request, but all retries have been exhausted"}`

// script is an in-memory RoundTripper that answers each attempt with the
// next of its steps (the last one repeats) and records what it was sent.
type script struct {
	mu     sync.Mutex
	steps  []func(*http.Request) (*http.Response, error)
	calls  []call
	bodies []*trackedBody
}

type call struct {
	at     time.Time
	req    *http.Request
	body   []byte
	header http.Header
}

type trackedBody struct {
	io.Reader
	closed bool
	read   int
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	b.read += n
	return n, err
}
func (b *trackedBody) Close() error { b.closed = true; return nil }

func (s *script) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	s.mu.Lock()
	i := min(len(s.calls), len(s.steps)-1)
	s.calls = append(s.calls, call{at: time.Now(), req: req, body: body, header: req.Header.Clone()})
	step := s.steps[i]
	s.mu.Unlock()
	resp, err := step(req)
	if resp != nil {
		tb := &trackedBody{Reader: resp.Body}
		resp.Body = tb
		s.mu.Lock()
		s.bodies = append(s.bodies, tb)
		s.mu.Unlock()
	}
	return resp, err
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func answer(code int, contentType, body string, header ...string) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
	}
}

func fail(err error) func(*http.Request) (*http.Response, error) {
	return func(*http.Request) (*http.Response, error) { return nil, err }
}

var (
	ok200        = answer(200, "application/json", `{"ok":true}`)
	backpressure = answer(503, "application/problem+json", rexhausted)
	tooMany      = answer(429, "", "")
	unavailable  = answer(503, "application/problem+json", `{"title":"UNAVAILABLE","status":503}`)
	badGateway   = answer(502, "", "")
	timeout504   = answer(504, "", "")
	plain500     = answer(500, "application/problem+json", `{"title":"java.lang.NullPointerException","status":500}`)
	notFound     = answer(404, "application/problem+json", `{"title":"NOT_FOUND","status":404}`)
	outOfDisk    = answer(503, "application/problem+json", `{"title":"RESOURCE_EXHAUSTED","status":503,"detail":"Cannot accept requests for partition 1. Broker is out of disk space"}`)
	refused      = fail(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	reset        = fail(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET})
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
	type step = func(*http.Request) (*http.Response, error)
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
				s := &script{steps: []step{tt.first, ok200}}
				rt := New(s, Policy{})
				req := newReq(t, t.Context(), tt.method, tt.path, `{"a":1}`)
				if strings.Contains(tt.name, "idempotency") {
					req.Header.Set("Idempotency-Key", "k-1")
				}
				resp, err := rt.RoundTrip(req)
				if got := s.count(); got != tt.wantAttempts {
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
		s := &script{steps: []func(*http.Request) (*http.Response, error){backpressure}}
		rt := New(s, Policy{MaxAttempts: 8, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second})
		resp, err := rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
		if err != nil || resp.StatusCode != 503 {
			t.Fatalf("want the last 503 with nil error, got %v, %v", resp, err)
		}
		resp.Body.Close()
		if s.count() != 8 {
			t.Fatalf("attempts = %d, want 8", s.count())
		}
		mean := 100 * time.Millisecond
		for i := 1; i < len(s.calls); i++ {
			d := s.calls[i].at.Sub(s.calls[i-1].at)
			lo, hi := time.Duration(float64(mean)*0.5), time.Duration(float64(mean)*1.5)
			if d < lo || d > hi {
				t.Errorf("delay %d = %v, want within [%v, %v]", i, d, lo, hi)
			}
			mean = min(mean*2, time.Second)
		}
		// Every discarded response was drained and closed.
		for i, b := range s.bodies[:len(s.bodies)-1] {
			if !b.closed || b.read == 0 {
				t.Errorf("response %d: closed=%v read=%d", i, b.closed, b.read)
			}
		}
	})
}

func TestNoRandomization(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []func(*http.Request) (*http.Response, error){tooMany}}
		rt := New(s, Policy{MaxAttempts: 4, RandomizationFactor: -1, InitialInterval: 10 * time.Millisecond, Multiplier: 3})
		resp, _ := rt.RoundTrip(newReq(t, t.Context(), "GET", "/", ""))
		resp.Body.Close()
		want := []time.Duration{10 * time.Millisecond, 30 * time.Millisecond, 90 * time.Millisecond}
		for i, w := range want {
			if d := s.calls[i+1].at.Sub(s.calls[i].at); d != w {
				t.Errorf("delay %d = %v, want %v", i, d, w)
			}
		}
	})
}

func TestRetryAfter(t *testing.T) {
	t.Run("floors the delay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := &script{steps: []func(*http.Request) (*http.Response, error){answer(429, "", "", "Retry-After", "3"), ok200}}
			var ev []Event
			rt := New(s, Policy{}, WithHooks(Hooks{OnRetry: func(e Event) { ev = append(ev, e) }}))
			resp, err := rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
			if err != nil || resp.StatusCode != 200 {
				t.Fatal(resp, err)
			}
			if d := s.calls[1].at.Sub(s.calls[0].at); d != 3*time.Second {
				t.Fatalf("delay = %v, want the Retry-After of 3s", d)
			}
			if len(ev) != 1 || ev[0].Source != SourceRetryAfter || ev[0].Delay != 3*time.Second {
				t.Fatalf("retry events = %+v", ev)
			}
		})
	})
	t.Run("shorter than the backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := &script{steps: []func(*http.Request) (*http.Response, error){answer(429, "", "", "Retry-After", "0"), ok200}}
			rt := New(s, Policy{RandomizationFactor: -1})
			resp, _ := rt.RoundTrip(newReq(t, t.Context(), "GET", "/", ""))
			resp.Body.Close()
			if d := s.calls[1].at.Sub(s.calls[0].at); d != 100*time.Millisecond {
				t.Fatalf("delay = %v, want the backoff's 100ms", d)
			}
		})
	})
	t.Run("garbage ignored", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := &script{steps: []func(*http.Request) (*http.Response, error){answer(429, "", "", "Retry-After", "-5"), ok200}}
			rt := New(s, Policy{RandomizationFactor: -1})
			resp, _ := rt.RoundTrip(newReq(t, t.Context(), "GET", "/", ""))
			resp.Body.Close()
			if d := s.calls[1].at.Sub(s.calls[0].at); d != 100*time.Millisecond {
				t.Fatalf("delay = %v", d)
			}
		})
	})
	t.Run("above the cap returns at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := &script{steps: []func(*http.Request) (*http.Response, error){answer(503, "application/problem+json", rexhausted, "Retry-After", "31"), ok200}}
			var done []Event
			rt := New(s, Policy{}, WithHooks(Hooks{OnDone: func(e Event) { done = append(done, e) }}))
			start := time.Now()
			resp, err := rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
			if err != nil || resp.StatusCode != 503 || s.count() != 1 || time.Since(start) != 0 {
				t.Fatalf("want the 503 at once after 1 attempt: %v %v attempts=%d after %v", resp, err, s.count(), time.Since(start))
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
			s := &script{steps: []func(*http.Request) (*http.Response, error){answer(429, "", "", "Retry-After", at), ok200}}
			rt := New(s, Policy{})
			resp, _ := rt.RoundTrip(newReq(t, t.Context(), "GET", "/", ""))
			resp.Body.Close()
			// HTTP-dates have whole seconds: the wait ends at that second.
			if d := s.calls[1].at.Sub(s.calls[0].at); d <= time.Second || d > 2*time.Second {
				t.Fatalf("delay = %v, want (1s, 2s]", d)
			}
		})
	})
}

func TestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []func(*http.Request) (*http.Response, error){backpressure}}
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
		if s.count() != 4 || time.Since(start) != 700*time.Millisecond {
			t.Fatalf("attempts = %d after %v, want 4 after 700ms", s.count(), time.Since(start))
		}
		if done[0].Stop != StopDeadline || done[0].Attempt != 4 {
			t.Fatalf("done = %+v", done[0])
		}
	})
}

func TestCancelDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []func(*http.Request) (*http.Response, error){answer(429, "", "", "Retry-After", "10"), ok200}}
		rt := New(s, Policy{})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		resp, err := rt.RoundTrip(newReq(t, ctx, "POST", "/v2/process-instances", "{}"))
		if resp != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v, %v", resp, err)
		}
		if time.Since(start) != 50*time.Millisecond || s.count() != 1 {
			t.Fatalf("returned after %v with %d attempts", time.Since(start), s.count())
		}
		var re *Error
		if !errors.As(err, &re) || re.Attempts != 1 || re.Host != "gw.test:8080" {
			t.Fatalf("err = %#v", err)
		}
		if !s.bodies[0].closed {
			t.Fatal("the discarded 429 was not closed")
		}
	})
}

func TestAttemptsExact(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 7} {
		synctest.Test(t, func(t *testing.T) {
			s := &script{steps: []func(*http.Request) (*http.Response, error){backpressure}}
			rt := New(s, Policy{MaxAttempts: n})
			resp, err := rt.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
			if err != nil || resp.StatusCode != 503 || s.count() != n {
				t.Fatalf("MaxAttempts %d: attempts %d, %v %v", n, s.count(), resp, err)
			}
			resp.Body.Close()
		})
	}
}

func TestTransportErrorAfterAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []func(*http.Request) (*http.Response, error){refused}}
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
		s := &script{steps: []func(*http.Request) (*http.Response, error){backpressure, tooMany, ok200}}
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
		for i, c := range s.calls {
			if string(c.body) != payload {
				t.Errorf("attempt %d body = %q", i, c.body)
			}
			if c.header.Get("X-Trace") != "t1" {
				t.Errorf("attempt %d lost a header", i)
			}
			if i > 0 && c.req == req {
				t.Errorf("attempt %d reused the caller's request", i)
			}
		}
		if s.calls[0].req != req {
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
		s := &script{steps: []func(*http.Request) (*http.Response, error){backpressure, ok200}}
		var done []Event
		rt := New(s, Policy{}, WithHooks(Hooks{OnDone: func(e Event) { done = append(done, e) }}))
		req := newReq(t, t.Context(), "POST", "/v2/process-instances", "")
		req.Body = io.NopCloser(io.MultiReader(strings.NewReader("streamed")))
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 503 || s.count() != 1 {
			t.Fatalf("want one attempt and its 503: %d, %v %v", s.count(), resp, err)
		}
		if done[0].Stop != StopBody {
			t.Fatalf("stop = %v", done[0].Stop)
		}
	})
}

func TestGetBodyFailureReturnsResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []func(*http.Request) (*http.Response, error){backpressure, ok200}}
		rt := New(s, Policy{})
		req := newReq(t, t.Context(), "POST", "/v2/process-instances", "{}")
		req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 503 || s.count() != 1 {
			t.Fatalf("got %d attempts, %v %v", s.count(), resp, err)
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
			s := &script{steps: []func(*http.Request) (*http.Response, error){tooMany}}
			rt := New(s, Policy{})
			resp, _ := rt.RoundTrip(newReq(t, tt.ctx, "GET", "/", ""))
			resp.Body.Close()
			if s.count() != tt.want {
				t.Errorf("attempts = %d, want %d", s.count(), tt.want)
			}
		}
	})
}

func TestBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A host that is down for GETs: without a budget, 100 requests
		// would make 500 attempts.
		s := &script{steps: []func(*http.Request) (*http.Response, error){unavailable}}
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
		retries := s.count() - n
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
		s2 := &script{steps: []func(*http.Request) (*http.Response, error){backpressure}}
		rt2 := New(s2, Policy{BudgetRatio: 0.2, BudgetReserve: 1})
		for range 10 {
			resp, _ := rt2.RoundTrip(newReq(t, t.Context(), "POST", "/v2/process-instances", "{}"))
			resp.Body.Close()
		}
		if s2.count() != 50 {
			t.Fatalf("backpressure attempts = %d, want 10 requests x 5 attempts", s2.count())
		}

		// Turned off, every request gets its attempts.
		s3 := &script{steps: []func(*http.Request) (*http.Response, error){unavailable}}
		rt3 := New(s3, Policy{BudgetRatio: -1})
		for range 20 {
			resp, _ := rt3.RoundTrip(newReq(t, t.Context(), "GET", "/", ""))
			resp.Body.Close()
		}
		if s3.count() != 100 {
			t.Fatalf("attempts without budget = %d, want 100", s3.count())
		}
	})
}

func TestHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []func(*http.Request) (*http.Response, error){backpressure, ok200}}
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
	var hs hosts
	hs.ratio, hs.reserv = 0.2, 10
	for i := range maxHosts + 50 {
		hs.get(verdict.Host{Scheme: "http", Addr: "h" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)})
	}
	if hs.m.Len() != maxHosts {
		t.Fatalf("hosts = %d, want %d", hs.m.Len(), maxHosts)
	}
}

type idleCloser struct {
	script
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

func TestDeadlineWhileNextAttemptWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []func(*http.Request) (*http.Response, error){backpressure, blockUntilDone}}
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
		if time.Since(start) != 500*time.Millisecond || s.count() != 2 {
			t.Fatalf("returned after %v and %d attempts", time.Since(start), s.count())
		}
		if len(done) != 1 || done[0].Stop != StopDeadline || done[0].Verdict.Kind != verdict.Backpressure {
			t.Fatalf("done = %+v", done)
		}
	})
}

func TestCancelWhileNextAttemptWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{steps: []func(*http.Request) (*http.Response, error){backpressure, blockUntilDone}}
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
		s := &script{steps: []func(*http.Request) (*http.Response, error){big, blockUntilDone}}
		rt := New(s, Policy{})
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		resp, err := rt.RoundTrip(newReq(t, ctx, "POST", "/v2/process-instances", "{}"))
		if resp != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("an answer too large to keep cannot come back: %v, %v", resp, err)
		}
		if !s.bodies[0].closed {
			t.Fatal("the large answer was not closed")
		}
	})
}
