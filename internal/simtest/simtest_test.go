package simtest

import (
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/verdict"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServerRejectsBeyondSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(2, 10*time.Millisecond)
		type answer struct {
			code int
			at   time.Duration
			kind verdict.Kind
		}
		start := time.Now()
		answers := make(chan answer, 3)
		for range 3 {
			go func() {
				req, _ := http.NewRequest(http.MethodPost, "http://sim.test/v2/process-instances", nil)
				resp, err := srv.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				k := verdict.Of(req, resp, nil).Kind
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode == 503 && !strings.Contains(string(body), "RESOURCE_EXHAUSTED") {
					t.Errorf("503 body %q", body)
				}
				answers <- answer{resp.StatusCode, time.Since(start), k}
			}()
		}
		var ok, rejected int
		for range 3 {
			a := <-answers
			switch a.code {
			case 200:
				ok++
				if a.at != 10*time.Millisecond || a.kind != verdict.Success {
					t.Errorf("200 after %v, verdict %v; want 10ms, success", a.at, a.kind)
				}
			case 503:
				rejected++
				if a.at != 0 || a.kind != verdict.Backpressure {
					t.Errorf("503 after %v, verdict %v; want at once, backpressure", a.at, a.kind)
				}
			}
		}
		if ok != 2 || rejected != 1 {
			t.Errorf("got %d ok, %d rejected; want 2, 1", ok, rejected)
		}
		if s := srv.Stats(); s != (Stats{Accepted: 2, Rejected: 1}) {
			t.Errorf("Stats() = %+v", s)
		}
		if c := srv.Capacity(); c != 200 {
			t.Errorf("Capacity() = %v, want 200", c)
		}
		srv.SetSlots(4)
		if c := srv.Capacity(); c != 400 {
			t.Errorf("after SetSlots(4), Capacity() = %v, want 400", c)
		}
	})
}

func TestServerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(1, time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://sim.test/", nil)
		start := time.Now()
		if _, err := srv.RoundTrip(req); err == nil || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("err %v after %v; want the context's error after 100ms", err, time.Since(start))
		}
		// The slot is free again.
		req, _ = http.NewRequest(http.MethodGet, "http://sim.test/", nil)
		if resp, err := srv.RoundTrip(req); err != nil || resp.StatusCode != 200 {
			t.Fatalf("after cancel: %v, %v", resp, err)
		}
	})
}

// Straight at the server, 4 clients on 2 slots: each round two get through
// and two are rejected and fail (nothing retries them).
func TestRunCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(2, 10*time.Millisecond)
		res := Run(2*time.Second, Load{Name: "bare", Transport: srv, Clients: 4, FailurePause: 10 * time.Millisecond})
		tot := res.Total()
		t.Logf("%v", tot)
		if tot.Attempts != tot.Requests+tot.Unfinished {
			t.Errorf("attempts %d != requests %d + unfinished %d: nothing retries here", tot.Attempts, tot.Requests, tot.Unfinished)
		}
		if s := srv.Stats(); s.Accepted+s.Rejected != tot.Attempts || s.Rejected != tot.Rejected {
			t.Errorf("server %+v, clients %v", s, tot)
		}
		if tot.Rejected < tot.Failed || tot.Rejected > tot.Failed+tot.Unfinished {
			t.Errorf("failed %d, rejected %d: every rejection is a failure here (or cut short at the end)", tot.Failed, tot.Rejected)
		}
		if g := res.Goodput(); g < 0.99*srv.Capacity() || g > srv.Capacity() {
			t.Errorf("goodput %.1f/s, capacity %.0f/s", g, srv.Capacity())
		}
		if g := res.GoodputBetween(0, time.Second); g < 190 || g > 200 {
			t.Errorf("goodput in the first second %.1f", g)
		}
		if len(res.Loads[0].Clients) != 4 || res.Loads[0].Name != "bare" {
			t.Errorf("loads %+v", res.Loads)
		}
	})
}

// A load can start late and stop early; requests running at its stop are
// unfinished, not failed.
func TestRunWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(1, 300*time.Millisecond)
		res := Run(3*time.Second, Load{Transport: srv, Clients: 1, Start: time.Second, Stop: 2 * time.Second})
		c := res.Loads[0].Total
		// Requests start at 1.0s, 1.3s, 1.6s and 1.9s; the last is cut at 2s.
		if c.Succeeded != 3 || c.Unfinished != 1 || c.Failed != 0 {
			t.Errorf("%v; want 3 ok, 1 unfinished", c)
		}
		if tl := res.Loads[0].Timeline; tl[0] != 0 || tl[1] != 3 || tl[2] != 0 {
			t.Errorf("timeline %v", tl)
		}
	})
}

func TestJain(t *testing.T) {
	tests := []struct {
		give []float64
		want float64
	}{
		{[]float64{1, 1, 1, 1}, 1},
		{[]float64{1, 0, 0, 0}, 0.25},
		{[]float64{3, 2, 2, 1}, 64.0 / 72},
		{nil, 0},
		{[]float64{0, 0}, 0},
	}
	for _, tt := range tests {
		if got := Jain(tt.give...); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Jain(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

// With a network latency every answer takes a round trip more, and a slot
// freed by one client stays free for that round trip.
func TestServerLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(1, 10*time.Millisecond)
		srv.SetLatency(time.Millisecond)
		start := time.Now()
		req, _ := http.NewRequest(http.MethodGet, "http://sim.test/", nil)
		resp, err := srv.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 || time.Since(start) != 12*time.Millisecond {
			t.Fatalf("%v, %v after %v; want 200 after 12ms", resp, err, time.Since(start))
		}
		// A second client arriving while the first holds the slot is
		// refused a round trip after it sent.
		done := make(chan struct{})
		go func() {
			srv.RoundTrip(req.Clone(context.Background()))
			close(done)
		}()
		time.Sleep(5 * time.Millisecond)
		start = time.Now()
		resp, _ = srv.RoundTrip(req.Clone(context.Background()))
		if resp.StatusCode != 503 || time.Since(start) != 2*time.Millisecond {
			t.Errorf("%d after %v; want 503 after 2ms", resp.StatusCode, time.Since(start))
		}
		<-done
	})
}

// Jitter spreads service times around their mean, which stays the same.
func TestServerJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(1, 10*time.Millisecond)
		srv.SetJitter(0.5)
		req, _ := http.NewRequest(http.MethodGet, "http://sim.test/", nil)
		var lo, hi, sum time.Duration = time.Hour, 0, 0
		const n = 2000
		for range n {
			start := time.Now()
			srv.RoundTrip(req)
			d := time.Since(start)
			lo, hi, sum = min(lo, d), max(hi, d), sum+d
		}
		if lo < 5*time.Millisecond || hi > 15*time.Millisecond || hi-lo < 9*time.Millisecond {
			t.Errorf("service times in [%v, %v], want spread over [5ms, 15ms]", lo, hi)
		}
		if mean := sum / n; mean < 9700*time.Microsecond || mean > 10300*time.Microsecond {
			t.Errorf("mean service time %v, want about 10ms", mean)
		}
	})
}

// A share of the requests is refused at random, whatever the load.
func TestServerRandomRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(100, 10*time.Millisecond)
		srv.SetRandomRefusals(0.25)
		res := Run(10*time.Second, Load{Transport: srv, Clients: 4, FailurePause: time.Millisecond})
		st := srv.Stats()
		share := float64(st.RandomlyRejected) / float64(st.Accepted+st.Rejected)
		if share < 0.22 || share > 0.28 || st.Rejected != st.RandomlyRejected {
			t.Errorf("%+v: %.3f refused at random, want about 0.25 and no other refusal", st, share)
		}
		if r := res.Total().RejectedShare(); math.Abs(r-share) > 1e-9 {
			t.Errorf("clients saw %.3f refused, the server %.3f", r, share)
		}
	})
}

// During an outage every request gets the outage's answer, at once.
func TestServerOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(1, 10*time.Millisecond)
		srv.SetLatency(time.Millisecond)
		req, _ := http.NewRequest(http.MethodPost, "http://sim.test/v2/process-instances", nil)
		srv.SetOutage(OutageUnavailable)
		start := time.Now()
		resp, err := srv.RoundTrip(req)
		if err != nil || resp.StatusCode != 503 || time.Since(start) != 2*time.Millisecond {
			t.Fatalf("unavailable: %v, %v after %v", resp, err, time.Since(start))
		}
		if a := verdict.Of(req, resp, nil); a.Kind != verdict.Unavailable {
			t.Errorf("verdict %v, want unavailable", a.Kind)
		}
		srv.SetOutage(OutageRefused)
		_, err = srv.RoundTrip(req)
		if a := verdict.Of(req, nil, err); a.Kind != verdict.TransportError || !a.NotSent {
			t.Errorf("refused: %v is %+v, want a transport error, not sent", err, a)
		}
		srv.SetOutage(NoOutage)
		if resp, err := srv.RoundTrip(req); err != nil || resp.StatusCode != 200 {
			t.Errorf("after the outage: %v, %v", resp, err)
		}
		if st := srv.Stats(); st.Failed != 2 || st.Accepted != 1 || st.Rejected != 0 {
			t.Errorf("Stats() = %+v", st)
		}
	})
}

// A job activation holds a slot for the service time, then takes a job or
// waits for one, without its slot, for the long poll's time.
func TestServerLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(1, 10*time.Millisecond)
		srv.SetLongPoll(time.Second)
		activate := func() <-chan time.Duration {
			ch := make(chan time.Duration, 1)
			go func() {
				start := time.Now()
				req, _ := http.NewRequest(http.MethodPost, "http://sim.test/zeebe"+ActivationPath, nil)
				if resp, err := srv.RoundTrip(req); err != nil || resp.StatusCode != 200 {
					t.Errorf("activation: %v, %v", resp, err)
				}
				ch <- time.Since(start)
			}()
			return ch
		}
		create := func() int {
			req, _ := http.NewRequest(http.MethodPost, "http://sim.test/v2/process-instances", nil)
			resp, _ := srv.RoundTrip(req)
			return resp.StatusCode
		}
		// No job: it waits for the long poll's whole time, holding no
		// slot meanwhile.
		ch := activate()
		time.Sleep(20 * time.Millisecond)
		if code := create(); code != 200 {
			t.Fatalf("a create beside a parked activation got %d", code)
		}
		// That create made a job, which the activation takes at once.
		if d := <-ch; d != 30*time.Millisecond {
			t.Errorf("activation answered after %v, want 30ms (when the job came)", d)
		}
		srv.SetJobs(false)
		create()
		if d := <-activate(); d != time.Second+10*time.Millisecond {
			t.Errorf("activation without jobs answered after %v, want its service then the long poll's 1s", d)
		}
		if st := srv.Stats(); st.Activations != 1 || st.Parked != 2 {
			t.Errorf("Stats() = %+v, want 1 activation, 2 parked", st)
		}
	})
}

// Run's finer figures: steps, shares of refusals between offsets,
// quantiles of request durations, starved clients.
func TestRunFigures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(2, 10*time.Millisecond)
		time.AfterFunc(time.Second, func() { srv.SetSlots(1) })
		res := Run(2*time.Second, Load{Transport: srv, Clients: 2, FailurePause: 10 * time.Millisecond})
		lr := res.Loads[0]
		if len(lr.Steps) != 20 || len(lr.AttemptSteps) != 20 {
			t.Fatalf("%d steps, %d attempt steps, want 20", len(lr.Steps), len(lr.AttemptSteps))
		}
		// Two clients, 10ms each: 99 requests each end before 1s.
		if g := res.GoodputBetween(0, time.Second); g != 198 {
			t.Errorf("goodput in the first second %.1f, want 198", g)
		}
		if r := res.RejectedBetween(0, time.Second); r != 0 {
			t.Errorf("%.3f refused in the first second, want none", r)
		}
		// One slot for two clients: every other attempt is refused.
		if r := res.RejectedBetween(time.Second, 2*time.Second); r < 0.3 || r > 0.6 {
			t.Errorf("%.3f refused in the second second, want about half", r)
		}
		if q := res.QuantileBetween(0, time.Second, 0.99); q != 10*time.Millisecond {
			t.Errorf("p99 of the first second %v, want 10ms", q)
		}
		if q := lr.Quantile(0.5); q != 10*time.Millisecond {
			t.Errorf("median %v, want 10ms", q)
		}
		if n := lr.Starved(0.5); n != 0 {
			t.Errorf("%d starved", n)
		}
		if len(lr.Durations) != len(lr.Ends) || int64(len(lr.Durations)) != lr.Total.Requests {
			t.Errorf("%d durations, %d ends, %d requests", len(lr.Durations), len(lr.Ends), lr.Total.Requests)
		}
	})
}
