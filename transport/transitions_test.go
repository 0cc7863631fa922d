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
