package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/internal/simtest"
	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/retry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBreakerTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m, err := New(reg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var healthy atomic.Bool
		base := testkit.Func(func(req *http.Request) (*http.Response, error) {
			if healthy.Load() {
				return testkit.OK(req)
			}
			return testkit.BadGateway(req)
		})
		once := retry.New(base, retry.Policy{MaxAttempts: 1}, retry.WithHooks(m.RetryHooks()))
		br := breaker.New(once, breaker.Settings{OpenTimeout: time.Second}, breaker.WithHooks(m.BreakerHooks()))
		m.WatchBreaker(br)
		rt := br
		state := func() string {
			return fmt.Sprintf(`
# HELP ebb_breaker_state State of the host's circuit breaker: 0 closed, 1 half-open, 2 open.
# TYPE ebb_breaker_state gauge
ebb_breaker_state{host="gw.test:8080"} %d
`, br.Stats()[0].State)
		}
		send := func() error {
			req, _ := http.NewRequest("GET", "http://gw.test:8080/v2/topology", nil)
			resp, err := rt.RoundTrip(req)
			if resp != nil {
				resp.Body.Close()
			}
			return err
		}
		// Five failures in a row trip it; the sixth request is refused.
		for range 5 {
			if err := send(); err != nil {
				t.Fatal(err)
			}
		}
		if err := send(); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("sixth request: %v, want ErrOpen", err)
		}
		const host = "gw.test:8080"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(state()), "ebb_breaker_state"); err != nil || br.Stats()[0].State != breaker.Open {
			t.Errorf("state gauge: %v, breaker %v", err, br.Stats()[0].State)
		}
		if v := testutil.ToFloat64(m.requests.WithLabelValues(host, "/v2/topology", "GET", "refused")); v != 1 {
			t.Errorf("refused requests = %v, want 1", v)
		}
		if v := testutil.ToFloat64(m.breakerTransitions.WithLabelValues(host, "closed", "open")); v != 1 {
			t.Errorf("closed->open = %v, want 1", v)
		}
		if v := testutil.ToFloat64(m.breakerRejections.WithLabelValues(host)); v != 1 {
			t.Errorf("rejections = %v, want 1", v)
		}
		if v := testutil.ToFloat64(m.attempts.WithLabelValues(host, "/v2/topology", "GET", "502", "unavailable")); v != 5 {
			t.Errorf("attempts = %v, want 5: the refused request sent nothing", v)
		}

		// After the open period the probe succeeds and closes it.
		healthy.Store(true)
		time.Sleep(time.Second + time.Millisecond)
		if err := send(); err != nil {
			t.Fatal(err)
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(state()), "ebb_breaker_state"); err != nil || br.Stats()[0].State != breaker.Closed {
			t.Errorf("state after the probe: %v, breaker %v", err, br.Stats()[0].State)
		}
		want := `
# HELP ebb_breaker_transitions_total State changes of the host's circuit breaker.
# TYPE ebb_breaker_transitions_total counter
ebb_breaker_transitions_total{from="closed",host="gw.test:8080",to="open"} 1
ebb_breaker_transitions_total{from="half-open",host="gw.test:8080",to="closed"} 1
ebb_breaker_transitions_total{from="open",host="gw.test:8080",to="half-open"} 1
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ebb_breaker_transitions_total"); err != nil {
			t.Error(err)
		}
		if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %v", problems, err)
		}
	})
}

func TestLimiterGauges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m, err := New(reg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv := simtest.NewServer(2, 10*time.Millisecond)
		srv.SetLatency(100 * time.Microsecond)
		srv.SetJitter(0.5)
		lim := limiter.New(srv, limiter.Settings{}, limiter.WithHooks(m.LimiterHooks()))
		m.WatchLimiter(lim)
		rt := chain(m, lim)
		res := simtest.Run(5*time.Second, simtest.Load{Transport: rt, Clients: 8})
		if res.Total().Succeeded == 0 {
			t.Fatal("nothing got through")
		}
		host := "sim.test:80"
		if n := testutil.CollectAndCount(m.limiterWait); n != 1 {
			t.Errorf("wait histogram series = %d, want 1", n)
		}
		var waits uint64
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "ebb_limiter_wait_seconds" {
				waits = mf.GetMetric()[0].GetHistogram().GetSampleCount()
			}
		}
		if waits == 0 {
			t.Error("no attempt waited for a permit: the limiter never held anything back")
		}
		bp := testutil.ToFloat64(m.backpressure.WithLabelValues(host, "/v2/process-instances"))
		if int64(bp) != res.Total().Rejected {
			t.Errorf("backpressure counter %v, server rejected %d", bp, res.Total().Rejected)
		}
		t.Logf("%d waits, %v; %v", waits, res.Total(), srv.Stats())
		if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %v", problems, err)
		}
	})
}
