package limiter_test

// The simulations that show the limiter at work, and chose its law. They run
// the real retry layer (package retry, a test-only import) in front of the
// limiter, as package transport chains them, against simtest's server.

import (
	"fmt"
	"math"
	"net/http"
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

// stats1 returns the numbers of sim.test, the simulations' host.
func stats1(lt *limiter.Transport) limiter.HostStats {
	s, _ := statsOf(lt, label)
	return s
}

func newServer(slots int) *simtest.Server { return newServerLatency(slots, latency) }

func newServerLatency(slots int, oneWay time.Duration) *simtest.Server {
	srv := simtest.NewServer(slots, service)
	srv.SetLatency(oneWay)
	srv.SetJitter(jitter)
	return srv
}

// limits samples a limiter's limit for sim.test every 10ms while a
// simulation runs.
type limits struct {
	mu        sync.Mutex
	last, min int
}

func (l *limits) watch(lt *limiter.Transport, d time.Duration) {
	l.min = math.MaxInt
	go func() {
		for range d / (10 * time.Millisecond) {
			time.Sleep(10 * time.Millisecond)
			s, ok := statsOf(lt, label)
			l.mu.Lock()
			if ok {
				l.last = s.Limit
				if s.Limit != limiter.Unlimited {
					l.min = min(l.min, s.Limit)
				}
			}
			l.mu.Unlock()
		}
	}()
}

func (l *limits) get() (last, min int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, l.min
}

// law is one way of building the limiter layer.
type law struct {
	name string
	s    limiter.Settings
}

var (
	lawOff      = law{"off", limiter.Settings{Profile: limiter.Off}}
	lawBalanced = law{"balanced", limiter.Settings{}}
)

// chain returns the retry layer, with its defaults, in front of the
// limiter, as package transport chains them, and the limiter.
func chain(l law, srv http.RoundTripper, opts ...limiter.Option) (http.RoundTripper, *limiter.Transport) {
	lt := limiter.New(srv, l.s, opts...)
	return retry.New(lt, retry.Policy{}), lt
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
	rt, lt := chain(l, srv)
	res := simtest.Run(time.Minute, simtest.Load{Name: l.name, Transport: rt, Clients: 64})
	s.goodput, s.capacity, s.total = res.Goodput(), srv.Capacity(), res.Total()
	s.limit = stats1(lt).Limit
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
		rt, _ := chain(l, srv)
		loads = append(loads, simtest.Load{Name: fmt.Sprint("p", i), Transport: rt, Clients: 16})
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
	rt, lt := chain(l, srv)
	var r recovery
	var at60 atomic.Int64
	time.AfterFunc(30*time.Second, func() { srv.SetSlots(16) })
	time.AfterFunc(60*time.Second, func() { at60.Store(int64(stats1(lt).Limit)) })
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
	r.limit = stats1(lt).Limit
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

// outage is 64 goroutines against a server that accepts nothing for 20s,
// then has 8 slots again.
type outage struct {
	rejectedPerSecond float64 // during the outage
	after             float64 // goodput over the 20s after it, share of capacity
}

func runOutage(l law) outage {
	srv := newServer(0)
	time.AfterFunc(20*time.Second, func() { srv.SetSlots(8) })
	rt, _ := chain(l, srv)
	res := simtest.Run(40*time.Second, simtest.Load{Transport: rt, Clients: 64})
	return outage{float64(srv.Stats().Rejected) / 20, res.GoodputBetween(20*time.Second, 40*time.Second) / 800}
}

func (o outage) String() string {
	return fmt.Sprintf("%4.0f attempts/s refused during it, %5.1f%% of capacity in the 20s after", o.rejectedPerSecond, 100*o.after)
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
		var waits []time.Duration
		start := time.Now()
		hooks := limiter.Hooks{OnWait: func(_ string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(start) > 5*time.Second {
				waits = append(waits, d)
			}
		}}
		rt, lt := chain(lawBalanced, srv, limiter.WithHooks(hooks))
		var lim limits
		lim.watch(lt, 15*time.Second)
		res := simtest.Run(15*time.Second,
			simtest.Load{Name: "burst", Transport: rt, Clients: 64, Stop: 5 * time.Second},
			simtest.Load{Name: "alone", Transport: rt, Clients: 1, Start: 5 * time.Second},
		)
		_, floor := lim.get()
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
