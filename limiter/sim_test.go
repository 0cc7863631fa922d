package limiter_test

// The simulations that pin the limiter's law to the goals of the dynamics
// issue: steady overload, capacity that returns, a lone client, a hot
// partition, a fleet, an outage, and long polls. They run the real retry
// layer (package retry, a test-only import) with its defaults in front of
// the limiter, as package transport chains them, against simtest's server,
// under testing/synctest. LAW.md records their figures.
//
// The server has 32 slots of 10ms (±10%), 0.05ms each way on the network:
// the loopback harness's figures, where the limit sat at a mean of 30.9 of
// 32 slots for 0.958 of capacity, put a little under 1% of each slot's time
// in transit. Under the race detector the runs are shorter.

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/simtest"
	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/retry"
)

const (
	service = 10 * time.Millisecond
	jitter  = 0.1
	latency = 50 * time.Microsecond
	slots   = 32
)

// span shortens the simulated durations under the race detector, which
// slows the simulation tenfold.
func span(d time.Duration) time.Duration {
	if raceEnabled {
		return d / 2
	}
	return d
}

func newServer(n int) *simtest.Server {
	srv := simtest.NewServer(n, service)
	srv.SetLatency(latency)
	srv.SetJitter(jitter)
	return srv
}

// process is one client process: the retry layer in front of a limiter,
// or of nothing when lt is nil.
type process struct {
	rt http.RoundTripper
	lt *limiter.Transport
}

func newProcess(srv http.RoundTripper, s *limiter.Settings) process {
	if s == nil {
		return process{rt: retry.New(srv, retry.Policy{})}
	}
	lt := limiter.New(srv, *s)
	return process{rt: retry.New(lt, retry.Policy{}), lt: lt}
}

var balanced = &limiter.Settings{}

// limitOf returns the limit of sim.test.
func limitOf(lt *limiter.Transport) int {
	s, _ := statsOf(lt, label)
	return s.Limit
}

// meanLimit samples the limit of lt every 10ms from a delay on until stop
// is closed, and returns where the mean will be once it is.
func meanLimit(lt *limiter.Transport, from time.Duration, stop <-chan struct{}) *float64 {
	var mean float64
	go func() {
		time.Sleep(from)
		var sum, n float64
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-tk.C:
				sum += float64(limitOf(lt))
				n++
			case <-stop:
				mean = sum / max(n, 1)
				return
			}
		}
	}()
	return &mean
}

// fleet returns the loads of four processes of clients goroutines against srv,
// each with a limiter of its own; all but the first start at join.
func fleet(srv *simtest.Server, join time.Duration, clients int) []simtest.Load {
	loads := make([]simtest.Load, 4)
	for i := range loads {
		loads[i] = simtest.Load{Name: fmt.Sprint("p", i), Transport: newProcess(srv, balanced).rt, Clients: clients}
		if i > 0 {
			loads[i].Start = join
		}
	}
	return loads
}

// firstAbove returns how long after from the goodput of res first reached
// rate over a step of simtest.Step, or -1.
func firstAbove(res simtest.Result, from time.Duration, rate float64) time.Duration {
	for at := from; at < res.Duration; at += simtest.Step {
		if res.GoodputBetween(at, at+simtest.Step) >= rate {
			return at + simtest.Step - from
		}
	}
	return -1
}

// Steady overload, 256 goroutines on 32 slots: the limit sits at the
// server's slots, every slot is used, refusals are rare, no request fails
// and none waits much beyond the queueing floor of a fair closed loop. So
// too with 1,024 goroutines, a backlog long enough for the fastest pace of
// probing, which a client alone on a full host must not keep up.
func TestSimSteady(t *testing.T) {
	for _, clients := range []int{256, 1024} {
		t.Run(fmt.Sprint(clients), func(t *testing.T) { steady(t, clients) })
	}
}

func steady(t *testing.T, clients int) {
	synctest.Test(t, func(t *testing.T) {
		d, warm := span(6*time.Second), time.Second
		srv := newServer(slots)
		p := newProcess(srv, balanced)
		stop := make(chan struct{})
		mean := meanLimit(p.lt, warm, stop)
		res := simtest.Run(d, simtest.Load{Transport: p.rt, Clients: clients})
		close(stop)
		synctest.Wait()
		floor := time.Duration(float64(clients) / srv.Capacity() * float64(time.Second))
		tot, lr := res.Total(), res.Loads[0]
		goodput := res.GoodputBetween(warm, d) / srv.Capacity()
		p99 := res.QuantileBetween(warm, d, 0.99)
		wasted := res.RejectedBetween(warm, d)
		t.Logf("goodput %.3f of capacity, %.2f%% refused; p99 %v (floor %v); starved %d; mean limit %.2f; whole run: %v",
			goodput, 100*wasted, p99, floor, lr.Starved(0.5), *mean, tot)
		if goodput < 0.98 {
			t.Errorf("goodput %.3f of capacity, want >= 0.98", goodput)
		}
		if wasted > 0.02 {
			t.Errorf("%.2f%% of attempts refused, want <= 2%%", 100*wasted)
		}
		if tot.Failed != 0 {
			t.Errorf("%d requests failed, want none", tot.Failed)
		}
		if p99 > floor*12/10 {
			t.Errorf("p99 %v, want <= 1.2 x %v", p99, floor)
		}
		if n := lr.Starved(0.5); n != 0 {
			t.Errorf("%d goroutines got under half the mean share", n)
		}
	})
}

// Capacity halves, then returns: 90% of it is used again within 0.3s.
func TestSimRefill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		half, back := time.Second, span(4*time.Second)
		srv := newServer(slots)
		time.AfterFunc(half, func() { srv.SetSlots(slots / 2) })
		time.AfterFunc(back, func() { srv.SetSlots(slots) })
		p := newProcess(srv, balanced)
		res := simtest.Run(back+time.Second, simtest.Load{Transport: p.rt, Clients: 256})
		halved := res.GoodputBetween(half+500*time.Millisecond, back) / (srv.Capacity() / 2)
		reach := firstAbove(res, back, 0.9*srv.Capacity())
		t.Logf("halved: %.3f of its capacity; 90%% of the restored capacity after %v; %v", halved, reach, res.Total())
		if reach < 0 || reach > 300*time.Millisecond {
			t.Errorf("90%% of the restored capacity after %v, want within 300ms", reach)
		}
		if halved < 0.95 {
			t.Errorf("%.3f of the halved capacity used, want >= 0.95", halved)
		}
	})
}

// Capacity halves under a fleet of four processes, then returns: 90% of it
// is used again within 0.3s, as for a client alone. The halving displaces
// every client, and while room is contested a client at or under the
// reference backlog does not chain its probes; but on half its permits
// each client here is squeezed (15 waiting per permit), and a squeezed
// client chains (six runs: 0.2s in five, 0.3s in one; with no chain at all,
// 0.8-1.0s).
func TestSimFleetRefill(t *testing.T) {
	var reaches []float64
	for range 3 {
		synctest.Test(t, func(t *testing.T) {
			half, back := 3*time.Second, 6*time.Second
			srv := newServer(slots)
			time.AfterFunc(half, func() { srv.SetSlots(slots / 2) })
			time.AfterFunc(back, func() { srv.SetSlots(slots) })
			res := simtest.Run(back+time.Second, fleet(srv, 0, 64)...)
			halved := res.GoodputBetween(half+500*time.Millisecond, back) / (srv.Capacity() / 2)
			reach := firstAbove(res, back, 0.9*srv.Capacity())
			t.Logf("halved: %.3f of its capacity; 90%% of the restored capacity after %v; %v", halved, reach, res.Total())
			if reach < 0 {
				reach = time.Hour
			}
			reaches = append(reaches, reach.Seconds())
			if halved < 0.95 {
				t.Errorf("%.3f of the halved capacity used, want >= 0.95", halved)
			}
			if tot := res.Total(); tot.Failed != 0 {
				t.Errorf("%d requests failed", tot.Failed)
			}
		})
	}
	if m := median(reaches); m > 0.3 {
		t.Errorf("median 90%% of the restored capacity after %.1fs (%v), want within 0.3s", m, reaches)
	}
}

// A client alone on a host, refused three times and then answered, waits
// what its retry policy says and nothing more, request after request.
func TestSimLoneClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var delays time.Duration
		hooks := retry.Hooks{OnRetry: func(ev retry.Event) { mu.Lock(); delays += ev.Delay; mu.Unlock() }}
		var n int
		base := testkit.Func(func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			n++
			refuse := n%4 != 0
			mu.Unlock()
			if refuse {
				return testkit.ResourceExhausted(req)
			}
			return testkit.OK(req)
		})
		lt := limiter.New(base, limiter.Settings{})
		rt := retry.New(lt, retry.Policy{}, retry.WithHooks(hooks))
		for i := range 5 {
			mu.Lock()
			delays = 0
			mu.Unlock()
			start := time.Now()
			resp, err := rt.RoundTrip(newReq("POST", target))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("request %d: %v, %v", i, resp, err)
			}
			resp.Body.Close()
			took := time.Since(start)
			mu.Lock()
			want := delays
			mu.Unlock()
			if took != want {
				t.Errorf("request %d took %v, its retry delays sum to %v", i, took, want)
			}
		}
	})
}

// A hot partition: a quarter of the attempts refused at random, whatever
// the load. The refusals do not fall when concurrency falls, and the
// limiter does not let them take the goodput: at least 90% of what the
// chain gets without it.
func TestSimHotPartition(t *testing.T) {
	run := func(s *limiter.Settings) (float64, int) {
		var goodput float64
		var limit int
		synctest.Test(t, func(t *testing.T) {
			srv := newServer(slots)
			srv.SetRandomRefusals(0.25)
			p := newProcess(srv, s)
			d := span(6 * time.Second)
			res := simtest.Run(d, simtest.Load{Transport: p.rt, Clients: 48})
			goodput = res.GoodputBetween(time.Second, d)
			if p.lt != nil {
				limit = limitOf(p.lt)
			}
		})
		return goodput, limit
	}
	on, limit := run(balanced)
	off, _ := run(nil)
	t.Logf("goodput %.0f/s with the limiter (limit %d at the end), %.0f/s without", on, limit, off)
	if on < 0.9*off {
		t.Errorf("goodput %.0f/s, want >= 90%% of the %.0f/s without the limiter", on, off)
	}
}

// Four processes of 64 goroutines share the server, started together or
// one alone first: together they use it all, refuse little, fail nothing,
// and share it evenly from 5s after the last join (the goal's own window).
// A single run's Jain is a draw from a wide spread (a staggered run, over
// forty: 0.90-0.999, median 0.975; with the law before Decrease 1, 3s after
// the join, 0.89-0.999, median 0.985; started together, 1s after the
// start, it fell below 0.9 in two runs of sixty), so each fleet runs three
// times and the median is judged, against a bound that only catches a
// regression.
func TestSimFleet(t *testing.T) {
	var jains [2][]float64
	for _, staggered := range []bool{false, false, false, true, true, true} {
		synctest.Test(t, func(t *testing.T) {
			srv := newServer(slots)
			join := time.Duration(0)
			if staggered {
				join = 4 * time.Second
			}
			measure := join + 5*time.Second
			// Shares converge over seconds: not shortened under the race
			// detector.
			d := measure + 4*time.Second
			res := simtest.Run(d, fleet(srv, join, 64)...)
			var shares []float64
			for _, lr := range res.Loads {
				var n int64
				for _, c := range lr.Steps[measure/simtest.Step:] {
					n += c
				}
				shares = append(shares, float64(n))
			}
			tot := res.Total()
			goodput := res.GoodputBetween(measure, d) / srv.Capacity()
			jain := simtest.Jain(shares...)
			floor := time.Duration(256 / srv.Capacity() * float64(time.Second))
			p99 := res.QuantileBetween(measure, d, 0.99)
			wasted := res.RejectedBetween(measure, d)
			t.Logf("staggered %v: goodput %.3f, %.2f%% refused, Jain %.3f (shares %.0f), p99 %v (floor %v); whole run: %v",
				staggered, goodput, 100*wasted, jain, shares, p99, floor, tot)
			if staggered {
				jains[1] = append(jains[1], jain)
			} else {
				jains[0] = append(jains[0], jain)
			}
			if wasted > 0.02 {
				t.Errorf("%.2f%% of attempts refused, want <= 2%%", 100*wasted)
			}
			if tot.Failed != 0 {
				t.Errorf("%d requests failed", tot.Failed)
			}
			// The goals are a goodput >= 0.98, Jain >= 0.99 and p99 <= 1.2
			// x the floor. Over ten runs each (LAW.md) the law reaches a
			// goodput of 0.990 and a p99 of 1.2-2.0 x: these bounds only
			// catch a regression.
			if goodput < 0.975 {
				t.Errorf("goodput %.3f of capacity, want >= 0.975", goodput)
			}
			if p99 > 5*floor {
				t.Errorf("p99 %v, want <= 5 x %v", p99, floor)
			}
		})
	}
	for i, name := range []string{"together", "staggered"} {
		if j := median(jains[i]); j < 0.9 {
			t.Errorf("%s: median Jain's index %.3f of %.3f, want >= 0.9", name, j, jains[i])
		}
	}
}

// An outage (every attempt answered 503 UNAVAILABLE, or refused at the
// dial) says nothing of the host's capacity: the limit does not collapse,
// and once the host is back the clients are back within a second.
func TestSimOutage(t *testing.T) {
	for _, o := range []simtest.Outage{simtest.OutageUnavailable, simtest.OutageRefused} {
		synctest.Test(t, func(t *testing.T) {
			down, up := span(2*time.Second), span(4*time.Second)
			srv := newServer(slots)
			p := newProcess(srv, balanced)
			var before int
			time.AfterFunc(down, func() { before = limitOf(p.lt); srv.SetOutage(o) })
			var during int
			time.AfterFunc(up, func() { during = limitOf(p.lt); srv.SetOutage(simtest.NoOutage) })
			res := simtest.Run(up+span(2*time.Second), simtest.Load{Transport: p.rt, Clients: 256})
			reach := firstAbove(res, up, 0.9*srv.Capacity())
			t.Logf("outage %d: limit %d before, %d at its end; 90%% of capacity %v after", o, before, during, reach)
			if during < before {
				t.Errorf("the limit fell from %d to %d during the outage", before, during)
			}
			if reach < 0 || reach > time.Second {
				t.Errorf("90%% of capacity %v after the outage, want within 1s", reach)
			}
		})
	}
}

// Job activations are long polls. Idle ones change neither the limit nor
// the others' throughput; an activation loop sharing a client with 64
// creators activates more often than one creator creates.
func TestSimLongPolls(t *testing.T) {
	run := func(polls int, jobs bool) (creations, activations int64, limit float64) {
		synctest.Test(t, func(t *testing.T) {
			srv := simtest.NewServer(4, service)
			srv.SetLatency(latency)
			srv.SetJitter(jitter)
			srv.SetJobs(jobs)
			srv.SetLongPoll(2 * time.Second)
			p := newProcess(srv, balanced)
			stop := make(chan struct{})
			mean := meanLimit(p.lt, 0, stop)
			loads := []simtest.Load{{Name: "create", Transport: p.rt, Clients: 64}}
			if polls > 0 {
				loads = append(loads, simtest.Load{Name: "activate", Transport: p.rt, Clients: polls,
					URL: "http://sim.test" + simtest.ActivationPath})
			}
			res := simtest.Run(span(6*time.Second), loads...)
			close(stop)
			synctest.Wait()
			creations, activations, limit = res.Loads[0].Total.Succeeded, srv.Stats().Activations, *mean
		})
		return creations, activations, limit
	}
	alone, _, limitAlone := run(0, false)
	idle, _, limitIdle := run(4, false)
	t.Logf("idle long polls: %d creations and a mean limit of %.2f with 4, %d and %.2f without", idle, limitIdle, alone, limitAlone)
	if float64(idle) < 0.95*float64(alone) {
		t.Errorf("%d creations beside 4 idle long polls, want >= 95%% of %d", idle, alone)
	}
	if limitIdle > limitAlone*1.05 || limitIdle < limitAlone*0.95 {
		t.Errorf("mean limit %.2f beside 4 idle long polls, %.2f without", limitIdle, limitAlone)
	}
	creations, activations, _ := run(1, true)
	t.Logf("one activation loop beside 64 creators: %d activations, %d creations (%d per creator)", activations, creations, creations/64)
	if activations < creations/64 {
		t.Errorf("%d activations, want at least the %d creations of one creator", activations, creations/64)
	}
}

// Four processes of 64 goroutines started together, against a server
// 250µs away each way: a stand-in for real clients, which take longer from
// an answer to their next attempt than the simulation's 50µs, so that a
// probe against the full server nearly always finds a slot between two
// attempts. There a chain of probes took one process to three times its
// share while the others, giving back more than was taken and winning it
// back at a capped pace, fell to a third of theirs (LAW.md, "The fleet over
// real loopback"). Over six runs the median p99 stays within 2× the floor:
// with the law before the pace cap and Decrease changed, the median of six
// was 2.10–2.68× in five tries; with this one, 1.56–1.79× in fourteen. And
// the median share of attempts refused stays within 0.33%: while room is
// contested a client at or under the reference backlog does not chain its
// probes; when it did, the median of six was 0.41–0.47% in three tries
// (with the gate, 0.22–0.26%).
func TestSimFleetChains(t *testing.T) {
	const runs = 6
	var ratios, wasted []float64
	for range runs {
		synctest.Test(t, func(t *testing.T) {
			srv := newServer(slots)
			srv.SetLatency(250 * time.Microsecond)
			measure, d := time.Second, 5*time.Second
			res := simtest.Run(d, fleet(srv, 0, 64)...)
			floor := time.Duration(256 / srv.Capacity() * float64(time.Second))
			p99 := res.QuantileBetween(measure, d, 0.99)
			ratios = append(ratios, float64(p99)/float64(floor))
			wasted = append(wasted, res.RejectedBetween(measure, d))
			if tot := res.Total(); tot.Failed != 0 {
				t.Errorf("%d requests failed", tot.Failed)
			}
		})
	}
	med, w := median(ratios), median(wasted)
	t.Logf("p99 / floor over %d runs: %.2f (median %.2f); refused: %.4f (median %.2f%%)", runs, ratios, med, wasted, 100*w)
	if med > 2 {
		t.Errorf("median p99 %.2f x the floor, want <= 2", med)
	}
	if w > 0.0033 {
		t.Errorf("median %.2f%% of attempts refused, want <= 0.33%%", 100*w)
	}
}

// A deep fleet: four processes of 100 goroutines wait 11.5 per permit at
// their fair share, beyond the reference backlog of 7, where the pace is 4.4
// times Increase for every client. It is the law's known weakness (LAW.md,
// "A deep fleet"): 1.6-1.8% of attempts refused in this simulation, 1.9-2.4%
// over loopback, p99 2.7-2.8x the floor. The bounds catch a regression:
// a steeper pace saturates at its bound for every client of such a fleet
// (the 5th power of the backlog refused 2.9-4.6%, the 12th 3.6-20%).
func TestSimDeepFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(slots)
		srv.SetLatency(250 * time.Microsecond)
		measure, d := 2*time.Second, 2*time.Second+span(4*time.Second)
		res := simtest.Run(d, fleet(srv, 0, 100)...)
		floor := time.Duration(400 / srv.Capacity() * float64(time.Second))
		p99 := res.QuantileBetween(measure, d, 0.99)
		wasted := res.RejectedBetween(measure, d)
		goodput := res.GoodputBetween(measure, d) / srv.Capacity()
		t.Logf("goodput %.3f, %.2f%% refused, p99 %v (floor %v); whole run: %v", goodput, 100*wasted, p99, floor, res.Total())
		if wasted > 0.025 {
			t.Errorf("%.2f%% of attempts refused, want <= 2.5%%", 100*wasted)
		}
		if p99 > 7*floor/2 {
			t.Errorf("p99 %v, want <= 3.5 x %v", p99, floor)
		}
		if tot := res.Total(); tot.Failed != 0 {
			t.Errorf("%d requests failed", tot.Failed)
		}
	})
}

// median sorts a and returns its median.
func median(a []float64) float64 {
	slices.Sort(a)
	n := len(a)
	if n%2 == 1 {
		return a[n/2]
	}
	return (a[n/2-1] + a[n/2]) / 2
}
