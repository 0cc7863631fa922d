package metrics

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/retry"
	"github.com/ebb-go/ebb/verdict"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// chain is the metrics-relevant part of transport's chain: retry, whose
// hooks feed every per-request and per-attempt family.
func chain(m *Metrics, base http.RoundTripper) http.RoundTripper {
	return retry.New(base, retry.Policy{}, retry.WithHooks(m.RetryHooks()))
}

func TestOneRetried503(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m, err := New(reg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		rt := chain(m, testkit.NewScript(testkit.ResourceExhausted, testkit.OK))
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
		rt := chain(m, testkit.NewScript(testkit.OK))
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
		rt := chain(m, testkit.NewScript(testkit.OK))
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

// TestSeriesBounded is issue 9's bound: whatever hosts and paths a client
// is sent to, each family keeps at most (MaxHosts+1) x (MaxRoutes+1) x
// methods x outcomes (or codes) series, and memory stays flat.
func TestSeriesBounded(t *testing.T) {
	m, err := New(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt := chain(m, testkit.NewScript(testkit.OK))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	send := func(url string) {
		req, _ := http.NewRequest("GET", url, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	const n = 100_000
	for i := range n {
		// A distinct host each time, in mixed case, and a distinct path
		// on one host each time.
		send(fmt.Sprintf("http://Host%d.Example.COM/v2/topology", i))
		send(fmt.Sprintf("http://api.example.com/items/%c%c%c/detail%d", 'a'+i%26, 'a'+i/26%26, 'a'+i/676%26, i))
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	hosts, routes := defaultMaxHosts+1, defaultMaxRoutes+1
	for name, c := range map[string]prometheus.Collector{"requests": m.requests, "attempts": m.attempts, "attempts_per_request": m.attemptsPerRequest} {
		got := testutil.CollectAndCount(c)
		// One method and one outcome (or code) here.
		if got > hosts*routes {
			t.Errorf("%s: %d series, bound %d", name, got, hosts*routes)
		}
		t.Logf("%s: %d series", name, got)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 20<<20 {
		t.Errorf("heap grew by %d MiB over %d hosts and %d paths", grew>>20, n, n)
	}
	// The host label is folded: one host spelt three ways is one series.
	m2, _ := New(nil, Options{})
	rt = chain(m2, testkit.NewScript(testkit.OK))
	for _, u := range []string{"http://GW.test/v2/topology", "http://gw.test:80/v2/topology", "HTTP://gw.TEST/v2/topology"} {
		req, _ := http.NewRequest("GET", u, nil)
		resp, _ := rt.RoundTrip(req)
		resp.Body.Close()
	}
	if got := testutil.CollectAndCount(m2.requests); got != 1 {
		t.Errorf("one host spelt three ways gave %d series", got)
	}
}

// TestCamundaRouteBeyondBound sends a Camunda route to a host whose bound
// of templates other paths have filled: its series is Other's, found in
// the same map whose lock the first lookup of a new route holds. It hung
// when Other's series was looked up under that lock.
func TestCamundaRouteBeyondBound(t *testing.T) {
	m, err := New(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt := chain(m, testkit.NewScript(testkit.OK))
	send := func(url string) {
		req, _ := http.NewRequest("GET", url, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
	}
	for i := range defaultMaxRoutes {
		send(fmt.Sprintf("http://gw.test/items/%c%c/detail", 'a'+i%26, 'a'+i/26))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		send("http://gw.test/v2/topology")
		send("http://gw.test/v2/jobs/activation")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		// Not a timing assertion: the two requests take microseconds, and
		// a goroutine waiting on a lock its own stack holds never returns.
		t.Fatal("a Camunda route beyond the host's bound of templates never returned")
	}
	// Both Camunda routes came after the bound was full: they count as
	// Other, beside the bound's own templates.
	if v := testutil.ToFloat64(m.requests.WithLabelValues("gw.test:80", verdict.Other, "GET", "success")); v != 2 {
		t.Errorf("Other counted %v requests, want the 2 Camunda routes", v)
	}
	if got, want := testutil.CollectAndCount(m.requests), defaultMaxRoutes+1; got != want {
		t.Errorf("%d series, want the %d templates of the bound and Other", got, want)
	}
}

func TestLimiterGaugesAtScrape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m, err := New(reg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		gate := &testkit.Gate{}
		lim := limiter.New(gate, limiter.Settings{})
		m.WatchLimiter(lim)
		// A second chain on the same registry reaching the same host:
		// its attempts add up.
		m2, err := New(reg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		lim2 := limiter.New(gate, limiter.Settings{})
		m2.WatchLimiter(lim2)
		var wg sync.WaitGroup
		for i, l := range []*limiter.Transport{lim, lim, lim2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://gw.test:8080/v2/topology?%d", i), nil)
				if resp, err := l.RoundTrip(req); err == nil {
					resp.Body.Close()
				}
			}()
		}
		synctest.Wait()
		want := func(inFlight int) string {
			return fmt.Sprintf(`
# HELP ebb_limiter_in_flight Attempts holding a permit of the host's limiter.
# TYPE ebb_limiter_in_flight gauge
ebb_limiter_in_flight{host="gw.test:8080"} %d
`, inFlight)
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want(3)), "ebb_limiter_in_flight"); err != nil {
			t.Error(err)
		}
		for _, h := range gate.Take() {
			h.Answer(testkit.OK)
		}
		wg.Wait()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want(0)), "ebb_limiter_in_flight"); err != nil {
			t.Error(err)
		}
		if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %v", problems, err)
		}
	})
}

// The code label names the common statuses, reads any other by its class,
// and has a value for no response and for a status outside HTTP's range:
// at most 21 values whatever the servers send.
func TestCodeLabel(t *testing.T) {
	tests := map[int]string{
		0: "none", 200: "200", 201: "201", 204: "204", 206: "2xx", 301: "3xx", 400: "400", 404: "404",
		418: "4xx", 429: "429", 500: "500", 503: "503", 504: "504", 507: "5xx", 599: "5xx",
		99: "other", 600: "other", 999: "other", -1: "other",
	}
	for status, want := range tests {
		if got := codeLabel(status); got != want {
			t.Errorf("codeLabel(%d) = %q, want %q", status, got, want)
		}
	}
	seen := map[string]bool{}
	for status := -1; status < 1000; status++ {
		seen[codeLabel(status)] = true
	}
	if len(seen) != 21 {
		t.Errorf("%d code labels over statuses -1..999, want the 21 the docs promise: %v", len(seen), seen)
	}
}

// Chains that share a registry share its gauges, which must not keep a
// chain the program has let go of: built and dropped a hundred times (per
// tenant, per test), the layers are collected and leave the gauges, while
// a chain still in use stays.
func TestGaugesLetGoOfDroppedChains(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kept := limiter.New(testkit.NewScript(testkit.OK), limiter.Settings{})
	m.WatchLimiter(kept)
	for range 100 {
		m.WatchLimiter(limiter.New(testkit.NewScript(testkit.OK), limiter.Settings{}))
		m.WatchBreaker(breaker.New(testkit.NewScript(testkit.OK), breaker.Settings{}))
	}
	runtime.GC()
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	m.gauges.mu.Lock()
	limiters, breakers := len(m.gauges.limiters), len(m.gauges.breakers)
	m.gauges.mu.Unlock()
	if limiters != 1 || breakers != 0 {
		t.Errorf("after a scrape the gauges watch %d limiters and %d breakers, want the 1 limiter still in use", limiters, breakers)
	}
	runtime.KeepAlive(kept)
}
