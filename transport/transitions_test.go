package transport

// The transitions of issue 10 through the whole default chain, under
// testing/synctest: fast, deterministic regression tests of the goals that
// bench/cmd/dynamics measures over real loopback with the server in a
// process of its own. The layers' own packages pin their laws in detail.

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/simtest"
	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/retry"
)

// TestLoneClientWaitsOnlyItsDelays: a request alone on its host, refused
// three times then accepted, takes the retry policy's three delays and not
// a moment more: the limiter adds no pause of its own.
func TestLoneClientWaitsOnlyItsDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := testkit.NewScript(testkit.ResourceExhausted, testkit.ResourceExhausted, testkit.ResourceExhausted, testkit.OK)
		// Without jitter the policy's delays are 100, 200 and 400ms.
		rt := New(base, WithRetry(retry.Policy{RandomizationFactor: -1}))
		req, _ := http.NewRequest("POST", "http://gw.test/v2/process-instances", nil)
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatal(resp, err)
		}
		if took := time.Since(start); took != 700*time.Millisecond {
			t.Fatalf("took %v, want exactly the policy's delays, 700ms", took)
		}
		if base.Count() != 4 {
			t.Fatalf("%d attempts, want 4", base.Count())
		}
	})
}

// TestSimHotPartition: a server that refuses a quarter of attempts at
// random, whatever the load (one overloaded partition of several), must not
// drive the limit down: the default chain gets at least 90% of what the
// same chain without its limiter gets.
func TestSimHotPartition(t *testing.T) {
	var on, off simtest.Result
	for _, tt := range []struct {
		res  *simtest.Result
		opts []Option
	}{{&on, nil}, {&off, []Option{limiterOff}}} {
		synctest.Test(t, func(t *testing.T) {
			srv := simServer(64)
			srv.SetRandomRefusals(0.25)
			*tt.res = simtest.Run(30*time.Second, simtest.Load{Transport: New(srv, tt.opts...), Clients: 48})
		})
	}
	t.Logf("default chain: %v ok/s; limiter off: %v ok/s", on.Goodput(), off.Goodput())
	if on.Goodput() < 0.9*off.Goodput() {
		t.Fatalf("default chain %.0f ok/s, limiter off %.0f ok/s: want at least 90%%", on.Goodput(), off.Goodput())
	}
}

// TestSimOutageRecovery: after a 30s outage, the default chain is back to
// 90% of its goodput within a second of the server's recovery, and sent
// little during it (the clients pause 100ms after each failure, as
// simtest's clients do).
func TestSimOutageRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := simServer(8)
		const down, up = 10 * time.Second, 40 * time.Second
		time.AfterFunc(down, func() { srv.SetOutage(simtest.OutageUnavailable) })
		time.AfterFunc(up, func() { srv.SetOutage(simtest.NoOutage) })
		res := simtest.Run(50*time.Second, simtest.Load{Transport: New(srv), Clients: 64})
		before := res.GoodputBetween(5*time.Second, down)
		after := res.GoodputBetween(up+time.Second, up+2*time.Second)
		t.Logf("goodput %.0f/s before, %.0f/s in the second after the first one back; attempts rejected during the outage %.0f/s",
			before, after, res.RejectedBetween(down+time.Second, up))
		if after < 0.9*before {
			t.Fatalf("one second after recovery goodput is %.0f/s, want >= 90%% of %.0f/s", after, before)
		}
	})
}

// TestSimOutageRecoveryWithLongPolls: a worker that polls for jobs beside
// its creates is back as soon as one that only creates. Its breaker's
// probe could be a job activation, which a gateway that is up parks for
// the whole long poll; the breaker must not refuse the creates until the
// poll returns (before the fix, 5s outages left the creates at nothing
// for 5s more, and longer).
func TestSimOutageRecoveryWithLongPolls(t *testing.T) {
	modes := map[simtest.Outage]string{simtest.OutageUnavailable: "503 unavailable", simtest.OutageRefused: "connections refused"}
	for mode, name := range modes {
		for _, outage := range []time.Duration{5 * time.Second, 11 * time.Second} {
			synctest.Test(t, func(t *testing.T) {
				srv := simServer(8)
				down := 5 * time.Second
				up := down + outage
				time.AfterFunc(down, func() { srv.SetOutage(mode) })
				time.AfterFunc(up, func() { srv.SetOutage(simtest.NoOutage) })
				tr := New(srv)
				res := simtest.Run(up+3*time.Second,
					simtest.Load{Name: "create", Transport: tr, Clients: 64},
					simtest.Load{Name: "activate", Transport: tr, Clients: 32, URL: "http://sim.test" + simtest.ActivationPath,
						Body: `{"type":"t","maxJobsToActivate":1}`})
				creates := res.Loads[0].Steps
				rate := func(from, to time.Duration) float64 {
					var n int64
					for i := from / simtest.Step; i < to/simtest.Step; i++ {
						n += creates[i]
					}
					return float64(n) / (to - from).Seconds()
				}
				before := rate(2*time.Second, down)
				back := time.Duration(-1)
				for at := up; at+simtest.Step <= res.Duration; at += simtest.Step {
					if rate(at, at+simtest.Step) >= 0.9*before {
						back = at + simtest.Step - up
						break
					}
				}
				t.Logf("outage %v (%s): creates %.0f/s before, back to 90%% %v after", outage, name, before, back)
				if back < 0 || back > time.Second {
					t.Errorf("outage %v (%s): creates back to 90%% of %.0f/s after %v, want within 1s", outage, name, before, back)
				}
			})
		}
	}
}
