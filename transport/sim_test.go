package transport

// The overload scenarios of DESIGN.md section 8, run through the whole
// default chain (breaker, retry, limiter) rather than a layer alone: first
// in simulation under testing/synctest, deterministic and fast, then over
// loopback against the emulated gateway with real HTTP. Package limiter's
// own simulations compare the control laws that chose the limiter's.

import (
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/camundatest"
	"github.com/ebb-go/ebb/internal/simtest"
	"github.com/ebb-go/ebb/limiter"
)

// simServer is simtest's server as the limiter's simulations configure it:
// 10ms per request on average (5 to 15ms) and 0.1ms each way on the network,
// without which the same few clients would hold every slot.
func simServer(slots int) *simtest.Server {
	srv := simtest.NewServer(slots, 10*time.Millisecond)
	srv.SetLatency(100 * time.Microsecond)
	srv.SetJitter(0.5)
	return srv
}

var limiterOff = WithLimiter(limiter.Settings{Profile: limiter.Off})

func describe(res simtest.Result, capacity float64) string {
	c := res.Total()
	return fmt.Sprintf("goodput %5.1f%% of capacity, %5.2f%% of %d attempts rejected, %5.2f%% of %d requests failed",
		100*res.Goodput()/capacity, 100*c.RejectedShare(), c.Attempts, 100*c.FailedShare(), c.Requests)
}

// TestSimOverload is one process, 64 goroutines, against 8 slots for a
// simulated minute, with the default chain and with its limiter off.
func TestSimOverload(t *testing.T) {
	var on, off simtest.Result
	var capacity float64
	synctest.Test(t, func(t *testing.T) {
		srv := simServer(8)
		capacity = srv.Capacity()
		on = simtest.Run(time.Minute, simtest.Load{Transport: New(srv), Clients: 64})
	})
	synctest.Test(t, func(t *testing.T) {
		srv := simServer(8)
		off = simtest.Run(time.Minute, simtest.Load{Transport: New(srv, limiterOff), Clients: 64})
	})
	t.Logf("default chain: %s", describe(on, capacity))
	t.Logf("limiter off:   %s", describe(off, capacity))
	c := on.Total()
	if g := on.Goodput() / capacity; g < 0.9 {
		t.Errorf("goodput %.1f%% of capacity, want >= 90%%", 100*g)
	}
	if r := c.RejectedShare(); r > 0.10 {
		t.Errorf("%.2f%% of attempts rejected, want <= 10%%", 100*r)
	}
	if f := c.FailedShare(); f > 0.01 {
		t.Errorf("%.2f%% of requests failed, want <= 1%%", 100*f)
	}
	if c.RejectedShare() >= off.Total().RejectedShare() {
		t.Errorf("the limiter should cut rejections: %.2f%% with, %.2f%% without", 100*c.RejectedShare(), 100*off.Total().RejectedShare())
	}
}

// TestSimFleet is four processes of 16 goroutines, each with its own chain,
// sharing 8 slots for a simulated minute.
func TestSimFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := simServer(8)
		var loads []simtest.Load
		for i := range 4 {
			loads = append(loads, simtest.Load{Name: fmt.Sprint("process ", i), Transport: New(srv), Clients: 16})
		}
		res := simtest.Run(time.Minute, loads...)
		var shares []float64
		for _, l := range res.Loads {
			shares = append(shares, float64(l.Total.Succeeded)/res.Duration.Seconds())
		}
		jain := simtest.Jain(shares...)
		t.Logf("4 processes: %s; shares %.0f/s, Jain %.3f", describe(res, srv.Capacity()), shares, jain)
		if g := res.Goodput() / srv.Capacity(); g < 0.9 {
			t.Errorf("goodput %.1f%% of capacity, want >= 90%%", 100*g)
		}
		if jain < 0.9 {
			t.Errorf("Jain's index %.3f, want >= 0.9", jain)
		}
	})
}

// TestLoopbackOverload is the overload scenario with real HTTP: 64
// goroutines against an emulated gateway of 8 slots over loopback, for a
// few seconds of real time, with the default chain and with its limiter
// off. Real time on a shared machine is noisy, so the test asserts only what
// holds with a wide margin and logs the figures.
func TestLoopbackOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time load test")
	}
	const (
		// 400 requests/s: a load 64 goroutines overload many times
		// over even under the race detector on a busy 2-core machine.
		slots   = 8
		service = 20 * time.Millisecond
		runFor  = 3 * time.Second
	)
	run := func(opts ...Option) (simtest.Result, camundatest.Stats) {
		gw := camundatest.NewGateway(camundatest.WithCapacity(camundatest.Capacity{Slots: slots, ServiceTime: service}))
		defer gw.Close()
		base := &http.Transport{MaxIdleConnsPerHost: 128}
		defer base.CloseIdleConnections()
		res := simtest.Run(runFor, simtest.Load{Transport: New(base, opts...), Clients: 64, URL: gw.URL() + "/v2/process-instances", Body: `{"processDefinitionId":"order"}`})
		return res, gw.Stats()
	}
	capacity := slots / service.Seconds()
	on, gwOn := run()
	off, gwOff := run(limiterOff)
	report := func(name string, res simtest.Result, st camundatest.Stats) string {
		tot := st.Total()
		return fmt.Sprintf("%s: goodput %.0f/s (%.1f%% of %.0f/s); gateway saw %d requests, %.2f%% backpressure; %.2f%% of %d requests failed",
			name, res.Goodput(), 100*res.Goodput()/capacity, capacity, tot.Requests, 100*float64(tot.Backpressure)/float64(max(tot.Requests, 1)),
			100*res.Total().FailedShare(), res.Total().Requests)
	}
	t.Log(report("default chain", on, gwOn))
	t.Log(report("limiter off  ", off, gwOff))
	onShare := float64(gwOn.Total().Backpressure) / float64(max(gwOn.Total().Requests, 1))
	offShare := float64(gwOff.Total().Backpressure) / float64(max(gwOff.Total().Requests, 1))
	if onShare >= offShare {
		t.Errorf("backpressure share %.2f%% with the limiter, %.2f%% without: the limiter should cut it", 100*onShare, 100*offShare)
	}
	if f := on.Total().FailedShare(); f > 0.01 {
		t.Errorf("%.2f%% of requests failed with the default chain, want <= 1%%", 100*f)
	}
}
