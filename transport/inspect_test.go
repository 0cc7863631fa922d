package transport

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/retry"
)

func TestOf(t *testing.T) {
	if Of(nil) != nil || Of(&http.Client{}) != nil || Of(http.DefaultClient) != nil {
		t.Error("Of found an ebb chain on a client without one")
	}
	c := NewClient()
	if Of(c) == nil || Of(c) != c.Transport {
		t.Error("Of did not find the chain of NewClient")
	}
	tr := New(nil)
	if Of(&http.Client{Transport: tr}) != tr {
		t.Error("Of did not find a chain set by hand")
	}
}

// Snapshot reports what each layer knows of each host: a host the breaker
// opened for, whose limit backpressure set, and whose retry budget failures
// drew on; and it leaves out the layers that are off.
func TestSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var down bool
		base := testkit.Func(func(req *http.Request) (*http.Response, error) {
			switch {
			case req.URL.Host == "full.test":
				return testkit.ResourceExhausted(req)
			case down:
				return testkit.Unavailable(req)
			}
			return testkit.OK(req)
		})
		tr := New(base,
			WithRetry(retry.Policy{MaxAttempts: 2, RandomizationFactor: -1}),
			WithBreaker(breaker.Settings{ConsecutiveFailures: 1, OpenTimeout: time.Second, MaxOpenTimeout: time.Second}))
		if s := tr.Snapshot(); len(s.Hosts) != 0 || s.Settings.Retry.MaxAttempts != 2 || s.Settings.Limiter.Profile != limiter.Balanced || s.Settings.Breaker.Disabled {
			t.Fatalf("fresh chain: %+v", s)
		}
		get := func(host, path string) {
			req, _ := http.NewRequest("GET", "http://"+host+path, nil)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
		}
		// Two concurrent creates refused with backpressure set the limit.
		done := make(chan struct{})
		for range 2 {
			go func() { get("full.test", "/v2/topology"); done <- struct{}{} }()
		}
		<-done
		<-done
		// A GET that fails twice trips the breaker and draws on the budget.
		down = true
		get("down.test", "/v2/topology")

		s := tr.Snapshot()
		if len(s.Hosts) != 2 || s.Hosts[0].Host != "down.test:80" || s.Hosts[1].Host != "full.test:80" {
			t.Fatalf("hosts %+v, want down.test:80 and full.test:80, sorted", s.Hosts)
		}
		down1, full := s.Hosts[0], s.Hosts[1]
		// The open period is drawn in [1/2, 1] of OpenTimeout.
		if b := down1.Breaker; b.State != breaker.Open || b.OpenFor < time.Second/2 || b.OpenFor > time.Second || b.OpenPeriod != b.OpenFor {
			t.Errorf("down.test's breaker %+v, want open for 0.5-1s, all of its period left", b)
		}
		if down1.RetryBudget >= float64(s.Settings.Retry.BudgetReserve) {
			t.Errorf("down.test's retry budget %v, want less than its reserve %d after a retried failure", down1.RetryBudget, s.Settings.Retry.BudgetReserve)
		}
		if full.Limiter.Limit == limiter.Unlimited || full.Limiter.InFlight != 0 {
			t.Errorf("full.test's limiter %+v, want a limit set by backpressure, nothing in flight", full.Limiter)
		}
		if full.RetryBudget != float64(s.Settings.Retry.BudgetReserve) {
			t.Errorf("full.test's retry budget %v, want its reserve: retries of backpressure do not draw on it", full.RetryBudget)
		}

		// Layers that are off are left out of the snapshot.
		bare := New(base, WithBreaker(breaker.Settings{Disabled: true}), WithLimiter(limiter.Settings{Profile: limiter.Off}))
		req, _ := http.NewRequest("GET", "http://full.test/v2/topology", nil)
		if resp, err := bare.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
		s = bare.Snapshot()
		if !s.Settings.Breaker.Disabled || s.Settings.Limiter.Profile != limiter.Off || len(s.Hosts) != 1 {
			t.Fatalf("bare chain: %+v", s)
		}
		if h := s.Hosts[0]; h.Breaker != (breaker.HostStats{}) || h.Limiter != (limiter.HostStats{}) {
			t.Errorf("bare chain's host %+v, want no breaker or limiter state", h)
		}
	})
}
