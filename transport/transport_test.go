package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/retry"
	"github.com/prometheus/client_golang/prometheus"
)

func TestChainOrder(t *testing.T) {
	var trace []string
	layer := func(name string) Middleware {
		return func(next http.RoundTripper) http.RoundTripper {
			return RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
				trace = append(trace, name)
				return next.RoundTrip(req)
			})
		}
	}
	base := RoundTripperFunc(func(*http.Request) (*http.Response, error) {
		trace = append(trace, "base")
		return &http.Response{StatusCode: 204, Body: http.NoBody}, nil
	})
	rt := Chain(base, layer("a"), layer("b"), layer("c"))
	req, _ := http.NewRequest("GET", "http://h/", nil)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(trace, ","); got != "a,b,c,base" {
		t.Fatalf("order = %s, want a,b,c,base", got)
	}
	if Chain(nil) != http.DefaultTransport {
		t.Fatal("Chain(nil) should be http.DefaultTransport")
	}
}

// TestLogging: a retry is logged at debug level, giving up at warn, a
// breaker opening at warn; no record carries the URL, its query or
// userinfo, a header or a body.
func TestLogging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		base := RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 503, Header: http.Header{"Content-Type": {"application/problem+json"}},
				Body: io.NopCloser(strings.NewReader(exhaustedBody)), Request: req}, nil
		})
		rt := New(base, WithLogger(logger), WithRetry(retry.Policy{MaxAttempts: 2}),
			WithBreaker(breaker.Settings{ConsecutiveFailures: 1}))
		req, _ := http.NewRequest("POST", "http://user:s3cret@gw.test:8080/zeebe/v2/jobs/2251799813685249/completion?token=t0k", strings.NewReader(`{"secret":"body"}`))
		req.Header.Set("Authorization", "Bearer h3ader")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		out := buf.String()
		for _, want := range []string{
			`level=DEBUG msg="ebb: retrying" host=gw.test:8080 route=/v2/jobs/{jobKey}/completion method=POST attempt=1 verdict=backpressure status=503`,
			`level=WARN msg="ebb: giving up" host=gw.test:8080 route=/v2/jobs/{jobKey}/completion method=POST attempt=2 verdict=backpressure status=503 stop=attempts`,
			`level=WARN msg="ebb: breaker open" host=gw.test:8080 from=closed to=open`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks\n  %s\nin\n%s", want, out)
			}
		}
		for _, secret := range []string{"s3cret", "user", "t0k", "h3ader", "2251799813685249", "secret", "zeebe"} {
			if strings.Contains(out, secret) {
				t.Errorf("log leaks %q:\n%s", secret, out)
			}
		}
	})
}

// TestLoggingTransportError: giving up on a transport error logs the error
// without the URL a *url.Error carries (a base that is itself an
// http.Client wraps its errors so), even wrapped further.
func TestLoggingTransportError(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	const secretURL = "http://user:s3cret@gw.test:8080/v2/process-instances?token=t0k"
	base := RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		return nil, fmt.Errorf("proxy: %w", &url.Error{Op: "Post", URL: secretURL, Err: errors.New("connection reset by peer")})
	})
	rt := New(base, WithLogger(logger), WithRetry(retry.Policy{MaxAttempts: 1}))
	req, _ := http.NewRequest("POST", secretURL, strings.NewReader("{}"))
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("want the transport error")
	}
	out := buf.String()
	if !strings.Contains(out, `error="connection reset by peer"`) || !strings.Contains(out, "stop=answered") {
		t.Errorf("log lacks the error or the stop:\n%s", out)
	}
	for _, secret := range []string{"s3cret", "user", "t0k"} {
		if strings.Contains(out, secret) {
			t.Errorf("log leaks %q:\n%s", secret, out)
		}
	}
}

func TestNewPanicsOnBadSettings(t *testing.T) {
	for name, opt := range map[string]Option{
		"retry":   WithRetry(retry.Policy{Multiplier: 0.5}),
		"breaker": WithBreaker(breaker.Settings{FailureRatio: 2}),
		"limiter": WithLimiter(limiter.Settings{Decrease: 3}),
		"metrics": WithMetricsNamespace("no-dashes"),
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("New should panic")
				}
			}()
			New(nil, opt, WithMetrics(prometheus.NewRegistry()))
		})
	}
}

func TestCloseIdleConnectionsReachesBase(t *testing.T) {
	var closed bool
	base := &closer{RoundTripper: RoundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") }), closed: &closed}
	c := &http.Client{Transport: New(base)}
	c.CloseIdleConnections()
	if !closed {
		t.Fatal("CloseIdleConnections did not reach the base transport")
	}
}

type closer struct {
	http.RoundTripper
	closed *bool
}

func (c *closer) CloseIdleConnections() { *c.closed = true }

// TestNilOptionSkipped: an option set conditionally and left nil is no
// option at all (issue 9, defect 10).
func TestNilOptionSkipped(t *testing.T) {
	var maybe Option
	rt := New(testkit.NewScript(testkit.OK), maybe, WithRetry(retry.Policy{MaxAttempts: 2}), nil)
	req, _ := http.NewRequest("GET", "http://gw.test/v2/topology", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %v, %v", resp, err)
	}
}

// TestNilURL: a hand-built request without a URL gets an error, as from
// net/http, not a panic, with metrics and a logger on (issue 9, defect 8).
func TestNilURL(t *testing.T) {
	base := testkit.NewScript(testkit.OK)
	rt := New(base, WithMetrics(prometheus.NewRegistry()), WithLogger(slog.New(slog.DiscardHandler)))
	body := testkit.NewBody("x")
	resp, err := rt.RoundTrip(&http.Request{Method: "POST", Header: http.Header{}, Body: body})
	if resp != nil || err == nil || !strings.Contains(err.Error(), "nil Request.URL") {
		t.Fatalf("got %v, %v", resp, err)
	}
	if base.Count() != 0 || !body.Closed() {
		t.Fatalf("sent %d, body closed %v", base.Count(), body.Closed())
	}
}

// WithNativeHistograms reaches the metrics: the duration histogram carries
// a native schema beside its classic buckets.
func TestWithNativeHistograms(t *testing.T) {
	for _, native := range []bool{false, true} {
		reg := prometheus.NewRegistry()
		opts := []Option{WithMetrics(reg)}
		if native {
			opts = append(opts, WithNativeHistograms())
		}
		rt := New(RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
		}), opts...)
		req, _ := http.NewRequest("GET", "http://gw.test/v2/topology", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, mf := range mfs {
			if mf.GetName() == "ebb_request_duration_seconds" {
				found = true
				if got := mf.GetMetric()[0].GetHistogram().Schema != nil; got != native {
					t.Errorf("WithNativeHistograms %v: native schema present = %v", native, got)
				}
			}
		}
		if !found {
			t.Fatal("no ebb_request_duration_seconds")
		}
	}
}

// A caller that asks http.Client's *url.Error whether the request timed out
// gets the answer a bare http.Transport gives: the url.Error asks its cause
// directly, and through the chain that cause is the retry layer's Error.
func TestURLErrorTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			<-req.Context().Done()
			return nil, req.Context().Err()
		})
		for _, tc := range []struct {
			name    string
			cancel  bool
			timeout bool
		}{{"deadline", false, true}, {"canceled", true, false}} {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			if tc.cancel {
				cancel()
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://gw.test:8080/v2/process-instances", strings.NewReader("{}"))
			_, err := (&http.Client{Transport: New(hang)}).Do(req)
			cancel()
			var ue *url.Error
			if !errors.As(err, &ue) || ue.Timeout() != tc.timeout {
				t.Errorf("%s: %v: Timeout() = %v, want %v", tc.name, err, ue != nil && ue.Timeout(), tc.timeout)
			}
		}
	})
}

// A probe of the breaker is a whole logical request, retries and all, and
// its time bound (here WithAttemptTimeout's) is a deadline the retry layer
// plans by: answered 503 with a Retry-After longer than the bound, the
// probe comes back with that answer at once, rather than sleep towards the
// Retry-After and be cut off by the bound as a timeout, which reopened the
// breaker and gave the caller an error instead of the server's answer.
func TestProbeBoundIsTheRetriesDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		busy := testkit.Respond(503, "application/problem+json", testkit.ResourceExhaustedBody, "Retry-After", "2")
		s := testkit.NewScript(testkit.ServerError, testkit.ServerError, testkit.ServerError, testkit.ServerError, testkit.ServerError, busy)
		rt := New(s, WithAttemptTimeout(time.Second), WithLimiter(limiter.Settings{Profile: limiter.Off}))
		get := func() (*http.Response, error) {
			req, _ := http.NewRequest("GET", "http://gw.test:8080/v2/topology", nil)
			return rt.RoundTrip(req)
		}
		for range 5 { // five failures in a row open the breaker
			if resp, err := get(); err == nil {
				resp.Body.Close()
			}
		}
		if _, err := get(); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("after five failures: %v, want the breaker open", err)
		}
		time.Sleep(time.Second) // past the open period: the next request probes
		start := time.Now()
		resp, err := get()
		if err != nil {
			t.Fatalf("the probe: %v after %v, want the server's 503", err, time.Since(start))
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || time.Since(start) != 0 {
			t.Errorf("the probe: %d after %v, want the 503 at once", resp.StatusCode, time.Since(start))
		}
	})
}
