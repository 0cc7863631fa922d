package metrics

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/ebb-go/ebb/retry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const exhausted = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503}`

// scripted answers each request with the next status of its list (the last
// repeats).
type scripted struct {
	mu    sync.Mutex
	codes []int
	n     int
}

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	code := s.codes[min(s.n, len(s.codes)-1)]
	s.n++
	s.mu.Unlock()
	h := http.Header{}
	body := "{}"
	if code == 503 {
		h.Set("Content-Type", "application/problem+json")
		body = exhausted
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// chain is the metrics-relevant part of transport's chain.
func chain(m *Metrics, base http.RoundTripper) http.RoundTripper {
	return m.Requests(retry.New(m.Attempts(base), retry.Policy{}, retry.WithHooks(m.RetryHooks())))
}

func TestOneRetried503(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m, err := New(reg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		rt := chain(m, &scripted{codes: []int{503, 200}})
		req, _ := http.NewRequest("POST", "http://Gateway.test:8080/zeebe/v2/process-instances", strings.NewReader("{}"))
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatal(resp, err)
		}
		const host, route = "gateway.test:8080", "/v2/process-instances"
		checks := []struct {
			name string
			got  float64
			want float64
		}{
			{"backpressure", testutil.ToFloat64(m.backpressure.WithLabelValues(host, route)), 1},
			{"retries", testutil.ToFloat64(m.retries.WithLabelValues(host, route, "backpressure")), 1},
			{"attempts 503", testutil.ToFloat64(m.attempts.WithLabelValues(host, route, "POST", "503", "backpressure")), 1},
			{"attempts 200", testutil.ToFloat64(m.attempts.WithLabelValues(host, route, "POST", "200", "success")), 1},
			{"requests", testutil.ToFloat64(m.requests.WithLabelValues(host, route, "POST", "success")), 1},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
		if n := testutil.CollectAndCount(m.attempts); n != 2 {
			t.Errorf("attempt series = %d, want 2", n)
		}
		if n := testutil.CollectAndCount(m.requests); n != 1 {
			t.Errorf("request series = %d, want 1", n)
		}
		// The attempts histogram saw one request of 2 attempts; the delay
		// histogram one backoff delay.
		wantHist := `
# HELP ebb_attempts_per_request Attempts made per logical request that reached the retry layer.
# TYPE ebb_attempts_per_request histogram
ebb_attempts_per_request_bucket{host="gateway.test:8080",route="/v2/process-instances",le="1"} 0
ebb_attempts_per_request_bucket{host="gateway.test:8080",route="/v2/process-instances",le="2"} 1
ebb_attempts_per_request_bucket{host="gateway.test:8080",route="/v2/process-instances",le="3"} 1
ebb_attempts_per_request_bucket{host="gateway.test:8080",route="/v2/process-instances",le="4"} 1
ebb_attempts_per_request_bucket{host="gateway.test:8080",route="/v2/process-instances",le="5"} 1
ebb_attempts_per_request_bucket{host="gateway.test:8080",route="/v2/process-instances",le="7"} 1
ebb_attempts_per_request_bucket{host="gateway.test:8080",route="/v2/process-instances",le="10"} 1
ebb_attempts_per_request_bucket{host="gateway.test:8080",route="/v2/process-instances",le="+Inf"} 1
ebb_attempts_per_request_sum{host="gateway.test:8080",route="/v2/process-instances"} 2
ebb_attempts_per_request_count{host="gateway.test:8080",route="/v2/process-instances"} 1
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(wantHist), "ebb_attempts_per_request"); err != nil {
			t.Error(err)
		}
		if n := testutil.ToFloat64(m.budgetExhausted.WithLabelValues(host)); n != 0 {
			t.Errorf("budget exhausted = %v", n)
		}
		if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %v", problems, err)
		}
	})
}

func TestLabelsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := New(nil, Options{MaxHosts: 5})
		if err != nil {
			t.Fatal(err)
		}
		rt := chain(m, &scripted{codes: []int{200}})
		for i := range 3000 {
			// Thousands of job keys on a handful of hosts, and hosts beyond
			// the bound.
			path := "/v2/jobs/" + itoa(2251799813685249+i) + "/completion"
			host := "gw" + itoa(i%8) + ".test"
			req, _ := http.NewRequest("POST", "http://"+host+path, nil)
			if _, err := rt.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
			req, _ = http.NewRequest("GET", "http://"+host+"/api/orders/"+itoa(i)+"/items", nil)
			if _, err := rt.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
		}
		// 5 hosts plus "other", 2 routes each.
		if n := testutil.CollectAndCount(m.requests); n != 6*2 {
			t.Fatalf("request series = %d, want 12", n)
		}
		if n := testutil.CollectAndCount(m.attempts); n != 6*2 {
			t.Fatalf("attempt series = %d, want 12", n)
		}
	})
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1, err := New(reg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := New(reg, Options{})
	if err != nil {
		t.Fatalf("second New on the same registry: %v", err)
	}
	if m1.requests != m2.requests {
		t.Fatal("the second Metrics should reuse the registered collectors")
	}
	if _, err := New(reg, Options{Namespace: "other"}); err != nil {
		t.Fatal(err)
	}
	// A collector of another kind under one of ebb's names is a real conflict.
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "ebb", Name: "requests_total", Help: "x"}))
	if _, err := New(reg2, Options{}); err == nil {
		t.Fatal("want a registration conflict")
	}
	if _, err := New(nil, Options{Namespace: "bad-name"}); err == nil || !strings.Contains(err.Error(), "bad-name") {
		t.Fatalf("err = %v", err)
	}
}

func TestMethodLabel(t *testing.T) {
	for give, want := range map[string]string{"": "GET", "GET": "GET", "POST": "POST", "PATCH": "PATCH", "BREW": "OTHER", "post": "OTHER"} {
		if got := method(give); got != want {
			t.Errorf("method(%q) = %q, want %q", give, got, want)
		}
	}
}

func TestNativeHistograms(t *testing.T) {
	for _, native := range []bool{false, true} {
		reg := prometheus.NewRegistry()
		m, err := New(reg, Options{NativeHistograms: native})
		if err != nil {
			t.Fatal(err)
		}
		rt := chain(m, &scripted{codes: []int{200}})
		req, _ := http.NewRequest("GET", "http://gw.test/v2/topology", nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "ebb_request_duration_seconds" {
				continue
			}
			h := mf.GetMetric()[0].GetHistogram()
			if got := h.Schema != nil; got != native {
				t.Errorf("native=%v: native schema present = %v", native, got)
			}
			if len(h.GetBucket()) != len(durationBuckets) {
				t.Errorf("native=%v: %d classic buckets, want %d", native, len(h.GetBucket()), len(durationBuckets))
			}
		}
	}
}

type idleCloser struct {
	scripted
	closed int
}

func (c *idleCloser) CloseIdleConnections() { c.closed++ }

func TestCloseIdleConnectionsPassesThrough(t *testing.T) {
	m, _ := New(nil, Options{})
	base := &idleCloser{}
	(&http.Client{Transport: m.Requests(base)}).CloseIdleConnections()
	(&http.Client{Transport: m.Attempts(base)}).CloseIdleConnections()
	if base.closed != 2 {
		t.Fatalf("CloseIdleConnections reached the next RoundTripper %d times, want 2", base.closed)
	}
}
