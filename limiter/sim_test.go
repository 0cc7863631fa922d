package limiter_test

// The simulations that show the limiter at work, and chose its law. They run
// the real retry layer (package retry, a test-only import) in front of the
// limiter, as package transport chains them, against simtest's server.

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/simtest"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/retry"
)

// The simulated server: 10ms per request on average (5 to 15ms), 0.1ms each
// way on the network.
const (
	service = 10 * time.Millisecond
	jitter  = 0.5
	latency = 100 * time.Microsecond
)

func newServer(slots int) *simtest.Server { return newServerLatency(slots, latency) }

func newServerLatency(slots int, oneWay time.Duration) *simtest.Server {
	srv := simtest.NewServer(slots, service)
	srv.SetLatency(oneWay)
	srv.SetJitter(jitter)
	return srv
}

// limits records the last limit each host reported.
type limits struct {
	mu   sync.Mutex
	last map[string]int
	min  map[string]int
}

func (l *limits) hooks() limiter.Hooks {
	return limiter.Hooks{OnLimit: func(host string, n int) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.last == nil {
			l.last, l.min = map[string]int{}, map[string]int{}
		}
		l.last[host] = n
		if m, ok := l.min[host]; n != limiter.Unlimited && (!ok || m == limiter.Unlimited || n < m) {
			l.min[host] = n
		}
	}}
}

func (l *limits) get(host string) (last, min int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last[host], l.min[host]
}

// law is one way of building the limiter layer.
type law struct {
	name string
	new  func(next http.RoundTripper, h limiter.Hooks) http.RoundTripper
}

func settingsLaw(name string, s limiter.Settings) law {
	return law{name, func(next http.RoundTripper, h limiter.Hooks) http.RoundTripper {
		s.Hooks = h
		return limiter.New(next, s)
	}}
}

func tweakedLaw(name string, tweak func(*limiter.Law)) law {
	return law{name, func(next http.RoundTripper, h limiter.Hooks) http.RoundTripper {
		return limiter.NewWithLaw(next, limiter.Settings{Hooks: h}, tweak)
	}}
}

var (
	lawOff      = settingsLaw("off", limiter.Settings{Profile: limiter.Off})
	lawBalanced = settingsLaw("balanced", limiter.Settings{})

	// The alternatives measured in the package doc.
	alternatives = []law{
		lawOff,
		// Camunda's SDKs, as their docs describe them: a first limit of 16,
		// x0.7 on every backpressure signal, a permit back per second of
		// quiet, nothing learnt from answers.
		tweakedLaw("camunda-like", func(l *limiter.Law) {
			l.Initial, l.Decrease, l.EverySignal = 16, 0.7, true
			l.Increase, l.Accelerate, l.CapInFlight = 0, false, false
		}),
		// Textbook AIMD per round: a permit per round up, x0.5 or x0.9 down.
		tweakedLaw("aimd-x0.5", func(l *limiter.Law) {
			l.Decrease, l.Increase, l.Accelerate, l.CapInFlight = 0.5, 1, false, false
		}),
		tweakedLaw("aimd-x0.9", func(l *limiter.Law) {
			l.Decrease, l.Increase, l.Accelerate, l.CapInFlight = 0.9, 1, false, false
		}),
		// The chosen law without one of its parts.
		tweakedLaw("balanced-nocap", func(l *limiter.Law) { l.CapInFlight = false }),
		tweakedLaw("balanced-linear", func(l *limiter.Law) { l.Accelerate = false }),
		tweakedLaw("balanced-noshed", func(l *limiter.Law) { l.Shed = false }),
		tweakedLaw("balanced-nopause", func(l *limiter.Law) { l.FloorPause = false }),
		lawBalanced,
		settingsLaw("conservative", limiter.Settings{Profile: limiter.Conservative}),
		settingsLaw("aggressive", limiter.Settings{Profile: limiter.Aggressive}),
	}
)

func chain(l law, srv http.RoundTripper, h limiter.Hooks) http.RoundTripper {
	return retry.New(l.new(srv, h), retry.Policy{})
}

// single is one process, 64 goroutines, against 8 slots for a minute.
type single struct {
	goodput, capacity float64
	total             simtest.Counts
	limit             int
}

func runSingle(l law) single { return runSingleLatency(l, latency) }

func runSingleLatency(l law, oneWay time.Duration) single {
	var s single
	srv := newServerLatency(8, oneWay)
	var lim limits
	res := simtest.Run(time.Minute, simtest.Load{Name: l.name, Transport: chain(l, srv, lim.hooks()), Clients: 64})
	s.goodput, s.capacity, s.total = res.Goodput(), srv.Capacity(), res.Total()
	s.limit, _ = lim.get("sim.test:80")
	return s
}

func (s single) String() string {
	return fmt.Sprintf("goodput %5.1f%% of capacity, rejected %5.2f%% of %6d attempts, failed %5.2f%% of %5d requests (final limit %d)",
		100*s.goodput/s.capacity, 100*s.total.RejectedShare(), s.total.Attempts,
		100*s.total.FailedShare(), s.total.Requests, s.limit)
}

// fleet is four processes of 16 goroutines sharing 8 slots for a minute.
type fleet struct {
	goodput, capacity, jain float64
	shares                  []float64
	total                   simtest.Counts
}

func runFleet(l law, slots int) fleet {
	srv := newServer(slots)
	var loads []simtest.Load
	for i := range 4 {
		loads = append(loads, simtest.Load{Name: fmt.Sprint("p", i), Transport: chain(l, srv, limiter.Hooks{}), Clients: 16})
	}
	res := simtest.Run(time.Minute, loads...)
	f := fleet{goodput: res.Goodput(), capacity: srv.Capacity(), total: res.Total()}
	for _, lr := range res.Loads {
		f.shares = append(f.shares, float64(lr.Total.Succeeded)/res.Duration.Seconds())
	}
	f.jain = simtest.Jain(f.shares...)
	return f
}

func (f fleet) String() string {
	return fmt.Sprintf("goodput %5.1f%% of capacity, Jain %.3f (shares %.0f/s), rejected %5.2f%%, failed %5.2f%%",
		100*f.goodput/f.capacity, f.jain, f.shares, 100*f.total.RejectedShare(), 100*f.total.FailedShare())
}

// recovery is 64 goroutines on 8 slots that become 16 at 30s; at 60s all
// but two goroutines stop, and the run goes on to 120s.
type recovery struct {
	reach     time.Duration // from the doubling to the first second at >= 90% of the new capacity
	after     float64       // goodput over the 20s after the doubling, share of the new capacity
	limit     int           // the limit reported at the end
	limitAt60 int
}

func runRecovery(l law) recovery {
	srv := newServer(8)
	var lim limits
	rt := chain(l, srv, lim.hooks())
	var r recovery
	var at60 atomic.Int64
	time.AfterFunc(30*time.Second, func() { srv.SetSlots(16) })
	time.AfterFunc(60*time.Second, func() { l, _ := lim.get("sim.test:80"); at60.Store(int64(l)) })
	res := simtest.Run(2*time.Minute,
		simtest.Load{Name: "many", Transport: rt, Clients: 62, Stop: time.Minute},
		simtest.Load{Name: "few", Transport: rt, Clients: 2},
	)
	r.reach = -1
	for sec := 30; sec < 60; sec++ {
		if res.GoodputBetween(time.Duration(sec)*time.Second, time.Duration(sec+1)*time.Second) >= 0.9*1600 {
			r.reach = time.Duration(sec+1-30) * time.Second
			break
		}
	}
	r.after = res.GoodputBetween(30*time.Second, 50*time.Second) / 1600
	r.limit, _ = lim.get("sim.test:80")
	r.limitAt60 = int(at60.Load())
	return r
}

func (r recovery) String() string {
	reach := "never"
	if r.reach >= 0 {
		reach = r.reach.String()
	}
	limit := fmt.Sprint(r.limit)
	if r.limit == limiter.Unlimited {
		limit = "unlimited"
	}
	return fmt.Sprintf("90%% of the new capacity after %s, %5.1f%% over its first 20s; limit %d at 60s, %s at the end",
		reach, 100*r.after, r.limitAt60, limit)
}

// late is four processes on 8 slots where one has the server to itself
// for 10s before the others join; fairness is measured from 20s to 70s.
func runLate(l law) float64 {
	srv := newServer(8)
	var loads []simtest.Load
	for i := range 4 {
		ld := simtest.Load{Name: fmt.Sprint("p", i), Transport: chain(l, srv, limiter.Hooks{}), Clients: 16}
		if i > 0 {
			ld.Start = 10 * time.Second
		}
		loads = append(loads, ld)
	}
	res := simtest.Run(70*time.Second, loads...)
	var shares []float64
	for _, lr := range res.Loads {
		var n int64
		for _, c := range lr.Timeline[20:] {
			n += c
		}
		shares = append(shares, float64(n))
	}
	return simtest.Jain(shares...)
}

// outage is 64 goroutines against a server that accepts nothing for 20s,
// then has 8 slots again.
type outage struct {
	rejectedPerSecond float64 // during the outage
	after             float64 // goodput over the 20s after it, share of capacity
}

func runOutage(l law) outage {
	srv := newServer(0)
	time.AfterFunc(20*time.Second, func() { srv.SetSlots(8) })
	res := simtest.Run(40*time.Second, simtest.Load{Transport: chain(l, srv, limiter.Hooks{}), Clients: 64})
	return outage{float64(srv.Stats().Rejected) / 20, res.GoodputBetween(20*time.Second, 40*time.Second) / 800}
}

func (o outage) String() string {
	return fmt.Sprintf("%4.0f attempts/s refused during it, %5.1f%% of capacity in the 20s after", o.rejectedPerSecond, 100*o.after)
}

// TestCompareLaws prints the figures the package doc cites for each
// alternative. It takes a few seconds; run it with EBB_SIM_COMPARE=1.
func TestCompareLaws(t *testing.T) {
	if os.Getenv("EBB_SIM_COMPARE") == "" {
		t.Skip("set EBB_SIM_COMPARE=1 to compare the alternatives")
	}
	var b strings.Builder
	for _, l := range alternatives {
		synctest.Test(t, func(t *testing.T) {
			fmt.Fprintf(&b, "%-16s single   %v\n", l.name, runSingle(l))
			// Fairness is where runs differ most: three of them.
			for range 3 {
				fmt.Fprintf(&b, "%-16s fleet/8  %v\n", l.name, runFleet(l, 8))
			}
			fmt.Fprintf(&b, "%-16s fleet/32 %v\n", l.name, runFleet(l, 32))
			fmt.Fprintf(&b, "%-16s recovery %v\n", l.name, runRecovery(l))
			fmt.Fprintf(&b, "%-16s late     Jain %.3f from 20s to 70s\n", l.name, runLate(l))
			fmt.Fprintf(&b, "%-16s outage   %v\n", l.name, runOutage(l))
		})
	}
	// With a slower network a permit spends a fifth of its time travelling:
	// a limit at the server's slots leaves them idle that long, and one
	// above them keeps an attempt bouncing off the full server.
	for _, l := range []law{lawOff, lawBalanced, fixedLaw(8), fixedLaw(9), fixedLaw(10)} {
		synctest.Test(t, func(t *testing.T) {
			fmt.Fprintf(&b, "%-16s single, 1ms each way %v\n", l.name, runSingleLatency(l, time.Millisecond))
		})
	}
	t.Log("\n" + b.String())
}

// fixedLaw holds the limit at n from the first backpressure on.
func fixedLaw(n int) law {
	return tweakedLaw(fmt.Sprint("fixed-", n), func(l *limiter.Law) {
		l.Initial, l.Decrease, l.Increase = float64(n), 1, 0
		l.Accelerate, l.CapInFlight, l.GrowOnTimer, l.UnlimitedAfter = false, false, false, -1
	})
}

func TestSweepFixed(t *testing.T) {
	if os.Getenv("EBB_SIM_COMPARE") == "" {
		t.Skip("set EBB_SIM_COMPARE=1 to sweep fixed limits")
	}
	var b strings.Builder
	for n := 7; n <= 14; n++ {
		synctest.Test(t, func(t *testing.T) {
			l := fixedLaw(n)
			fmt.Fprintf(&b, "%-9s single   %v\n", l.name, runSingle(l))
		})
	}
	t.Log("\n" + b.String())
}

// One process, 64 goroutines, 8 slots, a minute: the limiter keeps the
// server busy while sparing it the retry storm, and almost no request
// runs out of attempts.
func TestSimSingle(t *testing.T) {
	var on, off single
	synctest.Test(t, func(t *testing.T) { on = runSingle(lawBalanced) })
	synctest.Test(t, func(t *testing.T) { off = runSingle(lawOff) })
	t.Logf("limiter on:  %v", on)
	t.Logf("limiter off: %v", off)
	if on.goodput < 0.9*on.capacity {
		t.Errorf("goodput %.0f/s, below 90%% of the capacity %.0f/s", on.goodput, on.capacity)
	}
	if s := on.total.RejectedShare(); s > 0.10 {
		t.Errorf("%.1f%% of attempts rejected, want at most 10%%", 100*s)
	}
	if s := on.total.FailedShare(); s > 0.01 {
		t.Errorf("%.2f%% of requests failed, want at most 1%%", 100*s)
	}
}

// Four processes, each with its own limiter, share one server: together
// they keep it busy, and they share it evenly.
func TestSimFleet(t *testing.T) {
	var on, off fleet
	synctest.Test(t, func(t *testing.T) { on = runFleet(lawBalanced, 8) })
	synctest.Test(t, func(t *testing.T) { off = runFleet(lawOff, 8) })
	t.Logf("limiter on:  %v", on)
	t.Logf("limiter off: %v", off)
	if on.goodput < 0.9*on.capacity {
		t.Errorf("goodput %.0f/s, below 90%% of the capacity %.0f/s", on.goodput, on.capacity)
	}
	if on.jain < 0.9 {
		t.Errorf("Jain's index %.3f, want at least 0.9", on.jain)
	}
}

// After a period of overload the server doubles; the clients find the new
// capacity within seconds. When the overload ends the limit gets out of
// the way.
func TestSimRecovery(t *testing.T) {
	var on, off recovery
	synctest.Test(t, func(t *testing.T) { on = runRecovery(lawBalanced) })
	synctest.Test(t, func(t *testing.T) { off = runRecovery(lawOff) })
	t.Logf("limiter on:  %v", on)
	t.Logf("limiter off: %v", off)
	if on.reach < 0 || on.reach > 10*time.Second {
		t.Errorf("90%% of the new capacity reached after %v, want within 10s", on.reach)
	}
	if on.limit != limiter.Unlimited {
		t.Errorf("limit %d once the overload ended, want unlimited", on.limit)
	}
}

// After a burst that drove the limit to its floor, a single client is not
// held back: its requests go through at once.
func TestSimLowTrafficAtFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(1)
		var mu sync.Mutex
		var lim limits
		var waits []time.Duration
		start := time.Now()
		hooks := lim.hooks()
		hooks.OnWait = func(_ string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(start) > 5*time.Second {
				waits = append(waits, d)
			}
		}
		rt := chain(lawBalanced, srv, hooks)
		res := simtest.Run(15*time.Second,
			simtest.Load{Name: "burst", Transport: rt, Clients: 64, Stop: 5 * time.Second},
			simtest.Load{Name: "alone", Transport: rt, Clients: 1, Start: 5 * time.Second},
		)
		_, floor := lim.get("sim.test:80")
		alone := res.Loads[1].Total
		// Alone, a client gets a request through every service time and
		// round trip: 10.2ms.
		possible := 10 * time.Second / (service + 2*latency)
		var waited, longest time.Duration
		for _, w := range waits {
			waited, longest = waited+w, max(longest, w)
		}
		t.Logf("burst: %v; lowest limit %d", res.Loads[0].Total, floor)
		t.Logf("alone: %v; %d of %d possible; %d waits, %v in all, longest %v",
			alone, alone.Succeeded, possible, len(waits), waited, longest)
		if floor != 1 {
			t.Errorf("the burst took the limit to %d, not to its floor", floor)
		}
		if alone.Succeeded < int64(possible)*95/100 || alone.Failed > 0 {
			t.Errorf("alone: %v; want at least 95%% of %d requests through", alone, possible)
		}
		if longest > 250*time.Millisecond {
			t.Errorf("a request waited %v for a permit", longest)
		}
	})
}

// While the server accepts nothing, the limiter stops the clients from
// hammering it, and lets them back in when it recovers.
func TestSimOutage(t *testing.T) {
	var on, off outage
	synctest.Test(t, func(t *testing.T) { on = runOutage(lawBalanced) })
	synctest.Test(t, func(t *testing.T) { off = runOutage(lawOff) })
	t.Logf("limiter on:  %v", on)
	t.Logf("limiter off: %v", off)
	if on.rejectedPerSecond > off.rejectedPerSecond/10 {
		t.Errorf("%.0f attempts/s refused during the outage, want a tenth of the %.0f/s without the limiter",
			on.rejectedPerSecond, off.rejectedPerSecond)
	}
	if on.after < 0.9 {
		t.Errorf("%.1f%% of capacity after the outage, want at least 90%%", 100*on.after)
	}
}
