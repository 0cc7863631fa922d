package dynamics

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ebb-go/ebb/bench/internal/contender"
	"github.com/ebb-go/ebb/bench/internal/load"
	"github.com/ebb-go/ebb/bench/internal/slot"
	"github.com/ebb-go/ebb/bench/internal/stats"
)

// Figure names, the keys of Record.Figures.
const (
	FigCapacity      = "capacity"        // probe: ok/s with exactly Slots in flight
	FigIdealCapacity = "ideal_capacity"  // probe: Slots / the mean time a slot was held
	FigProbeRefused  = "probe_refused"   // probe: refusals (0 when the probe is right)
	FigOKPerS        = "ok_per_s"        // successes per second in the window
	FigGoodput       = "goodput"         // ok_per_s / capacity
	FigWasted        = "wasted"          // share of attempts not answered 2xx
	FigFailed        = "failed"          // share of logical requests that failed
	FigFailedLocal   = "failed_local"    // share of logical requests that failed without an attempt
	FigP50           = "p50_ms"          // latency of logical requests
	FigP99           = "p99_ms"          //
	FigP99Floor      = "p99_floor"       // p99 / (goroutines / capacity)
	FigStarved       = "starved"         // goroutines without a success in the run
	FigJain          = "jain"            // over the goroutines' successes in the window
	FigJainProcs     = "jain_procs"      // fleet: over the processes' successes
	FigShareMin      = "share_min"       // fleet: the smallest process's goodput
	FigShareMax      = "share_max"       // fleet: the largest process's goodput
	FigVsNoLimit     = "vs_nolimit"      // hot: ok_per_s / that of ebb without its limiter
	FigLone          = "lone_s"          // lone: the request's wall time
	FigLonePromise   = "lone_promise_s"  // lone: what the retry policy promises
	FigLoneRatio     = "lone_ratio"      // lone: lone_s / lone_promise_s
	FigLoneAttempts  = "lone_attempts"   // lone: attempts the request took
	FigLoneOK        = "lone_ok"         // lone: 1 if it succeeded
	FigBefore        = "before"          // outage, halve: goodput before the change
	FigRecovery      = "recovery_s"      // outage: back to 90% of before, from the server's recovery
	FigOutageAtt     = "outage_attempts" // outage: attempts sent during the outage
	FigOutageAttPerS = "outage_attempts_per_s"
	FigOutageShare   = "outage_share"   // outage: outage_attempts / those of the client without retries
	FigLocalPerS     = "local_per_s"    // outage: requests failed without an attempt, per second from the outage on
	FigRefill        = "refill_s"       // halve: to 90% of capacity, from the slots' return
	FigHalved        = "halved_goodput" // halve: goodput while halved / (capacity / 2)
)

// Record is one client's run of one scenario in one repetition.
type Record struct {
	Scenario string               `json:"scenario"`
	Client   string               `json:"client"`
	Rep      int                  `json:"rep"`
	Figures  map[string]stats.Num `json:"figures"`
	// Error is why the run failed, if it did; its figures are then
	// missing.
	Error string `json:"error,omitempty"`
	// Failures count the failed logical requests by reason.
	Failures map[string]int64 `json:"failures,omitempty"`
	// Accepted is the server's accepted answers per 100ms from T0, and
	// Events its changes, for the charts of the transitions.
	Accepted []int64      `json:"accepted,omitempty"`
	Events   []slot.Event `json:"events,omitempty"`
	// Latency is the latency histogram of the steady overload.
	Latency *stats.Hist `json:"latency,omitempty"`
	// Procs are the fleet's processes' successes per 100ms.
	Procs [][]int64 `json:"procs,omitempty"`
	// StopS is when the run's clients stopped, in seconds from T0: the
	// end of the charts' time axis.
	StopS float64 `json:"stop_s,omitempty"`
}

// env is one repetition's context.
type env struct {
	cfg      Config
	srv      *server
	rep      int
	capacity float64
	// deps are the module versions the client binary reported.
	deps map[string]string
}

func (e *env) record(scenario, client string) Record {
	return Record{Scenario: scenario, Client: client, Rep: e.rep, Figures: map[string]stats.Num{}}
}

func fail(r Record, err error) Record {
	r.Error = err.Error()
	return r
}

func secs(d time.Duration) stats.Num { return stats.Num(d.Seconds()) }

// probe measures the capacity: a client without retries keeping exactly
// Slots requests in flight, which the server never refuses.
func (e *env) probe(ctx context.Context) Record {
	r := e.record("probe", contender.KeyNone)
	p := e.cfg.Probe
	res, c, err := e.scene(ctx, nil, []clientRun{{
		lib: contender.KeyNone, goroutines: e.cfg.Slots,
		stop: p.Warm + p.Measure, window: stats.Span{From: p.Warm, To: p.Warm + p.Measure},
	}}, nil)
	if err != nil {
		return fail(r, err)
	}
	e.capacity = float64(res[0].Window.OK) / p.Measure.Seconds()
	r.Figures[FigCapacity] = stats.Num(e.capacity)
	r.Figures[FigProbeRefused] = stats.Num(c.RefusedCapacity)
	if c.MeanHoldMS > 0 {
		r.Figures[FigIdealCapacity] = stats.Num(float64(e.cfg.Slots) / (c.MeanHoldMS / 1000))
	}
	r.Failures = res[0].Failures
	e.deps = res[0].Deps
	return r
}

// closed adds the figures of closed loops measured over measure: goodput,
// waste, failures, latency, starvation and fairness.
func (e *env) closed(r *Record, res []load.Result, measure time.Duration) {
	var (
		ok, requests, failed, local, attempts, attemptsOK int64
		per                                               []float64
		starved, goroutines                               int
		lat                                               stats.Hist
	)
	for _, x := range res {
		w := x.Window
		ok += w.OK
		requests += w.Requests
		failed += w.Failed
		local += w.FailedLocal
		attempts += w.Attempts
		attemptsOK += w.AttemptsOK
		for _, n := range w.PerGoroutine {
			per = append(per, float64(n))
		}
		for _, n := range x.RunOK {
			if n == 0 {
				starved++
			}
		}
		goroutines += x.Goroutines
		lat.Merge(&x.Latency)
		if r.Failures == nil {
			r.Failures = map[string]int64{}
		}
		for k, v := range x.Failures {
			r.Failures[k] += v
		}
	}
	rate := float64(ok) / measure.Seconds()
	f := r.Figures
	f[FigOKPerS] = stats.Num(rate)
	f[FigGoodput] = stats.Num(rate / e.capacity)
	f[FigWasted] = ratio(attempts-attemptsOK, attempts)
	f[FigFailed] = ratio(failed, requests)
	f[FigFailedLocal] = ratio(local, requests)
	f[FigP50] = stats.Num(float64(lat.Quantile(0.50)) / float64(time.Millisecond))
	p99 := lat.Quantile(0.99)
	f[FigP99] = stats.Num(float64(p99) / float64(time.Millisecond))
	f[FigP99Floor] = stats.Num(p99.Seconds() / (float64(goroutines) / e.capacity))
	f[FigStarved] = stats.Num(starved)
	f[FigJain] = stats.Num(stats.Jain(per...))
	if lat.N() == 0 {
		f[FigP50], f[FigP99], f[FigP99Floor] = nan(), nan(), nan()
	}
}

func ratio(a, b int64) stats.Num {
	if b == 0 {
		return nan()
	}
	return stats.Num(float64(a) / float64(b))
}

func nan() stats.Num { return stats.Num(math.NaN()) }

// steady is the steady overload: Goroutines closed loops against the
// server's slots.
func (e *env) steady(ctx context.Context, lib string) Record {
	r := e.record(ScenarioSteady, lib)
	p := e.cfg.Steady
	res, _, err := e.scene(ctx, nil, []clientRun{{
		lib: lib, goroutines: e.cfg.Goroutines,
		stop: p.Warm + p.Measure, window: stats.Span{From: p.Warm, To: p.Warm + p.Measure},
	}}, nil)
	if err != nil {
		return fail(r, err)
	}
	e.closed(&r, res, p.Measure)
	r.Latency = &res[0].Latency
	return r
}

// hot is the hot partition: HotGoroutines closed loops against a server
// that refuses HotShare of the requests at random, whatever the load.
func (e *env) hot(ctx context.Context, lib string) Record {
	r := e.record(ScenarioHot, lib)
	p := e.cfg.Hot
	setup := []string{"/share?p=" + strconv.FormatFloat(e.cfg.HotShare, 'g', -1, 64)}
	res, _, err := e.scene(ctx, setup, []clientRun{{
		lib: lib, goroutines: e.cfg.HotGoroutines,
		stop: p.Warm + p.Measure, window: stats.Span{From: p.Warm, To: p.Warm + p.Measure},
	}}, nil)
	if err != nil {
		return fail(r, err)
	}
	e.closed(&r, res, p.Measure)
	return r
}

// lone is one goroutine sending one request that the server refuses
// LoneRefusals times before it accepts it.
func (e *env) lone(ctx context.Context, lib string) Record {
	r := e.record(ScenarioLone, lib)
	stop := e.cfg.Timeout + 2*time.Second
	setup := []string{"/refuse-next?k=" + strconv.Itoa(e.cfg.LoneRefusals)}
	res, _, err := e.scene(ctx, setup, []clientRun{{
		lib: lib, goroutines: 1, requests: 1, stop: stop, window: stats.Span{To: stop},
	}}, nil)
	if err != nil {
		return fail(r, err)
	}
	x := res[0]
	r.Failures = x.Failures
	if len(x.EachMS) != 1 {
		return r
	}
	f := r.Figures
	f[FigLone] = stats.Num(x.EachMS[0] / 1000)
	f[FigLoneAttempts] = stats.Num(x.EachAttempts[0])
	f[FigLoneOK] = 0
	if x.EachOK[0] {
		f[FigLoneOK] = 1
	}
	c, _ := contender.Lookup(lib)
	if promise, ok := c.Promise(e.cfg.LoneRefusals); ok && promise > 0 {
		f[FigLonePromise] = secs(promise)
		f[FigLoneRatio] = f[FigLone] / secs(promise)
	}
	return r
}

// eventAt is the instant of the first event named what, or the fallback
// when the server recorded none.
func eventAt(c slot.Counters, what string, fallback time.Duration) time.Duration {
	for _, ev := range c.Events {
		if ev.What == what {
			return time.Duration(ev.AtMS * float64(time.Millisecond))
		}
	}
	return fallback
}

// reach is stats.Reach over the server's accepted answers, +Inf when the
// level is never reached.
func reach(accepted []int64, from time.Duration, target float64) stats.Num {
	d, ok := stats.Reach(accepted, bucket, from, target, 5)
	if !ok {
		return stats.Num(math.Inf(1))
	}
	return secs(d)
}

// halve is the steady overload whose slots halve, then return.
func (e *env) halve(ctx context.Context, lib string) Record {
	r := e.record(ScenarioHalve, lib)
	cfg := e.cfg
	half := cfg.Slots / 2
	stop := cfg.HalvePre + cfg.Halved + cfg.HalvePost
	res, c, err := e.scene(ctx, nil, []clientRun{{
		lib: lib, goroutines: cfg.Goroutines, stop: stop, window: stats.Span{To: stop},
	}}, []step{
		{cfg.HalvePre, "/slots?n=" + strconv.Itoa(half)},
		{cfg.HalvePre + cfg.Halved, "/slots?n=0"},
	})
	if err != nil {
		return fail(r, err)
	}
	halveAt := eventAt(c, "slots "+strconv.Itoa(half), cfg.HalvePre)
	restoreAt := eventAt(c, "slots "+strconv.Itoa(cfg.Slots), cfg.HalvePre+cfg.Halved)
	acc := c.Series.Accepted
	f := r.Figures
	f[FigBefore] = stats.Num(stats.Rate(acc, bucket, stats.Span{From: cfg.HalvePre * 6 / 10, To: halveAt}) / e.capacity)
	f[FigHalved] = stats.Num(stats.Rate(acc, bucket, stats.Span{From: halveAt + cfg.Halved/2, To: restoreAt}) / (e.capacity / 2))
	f[FigRefill] = reach(acc, restoreAt, 0.9*e.capacity)
	r.Accepted, r.Events, r.Failures, r.StopS = acc, c.Events, res[0].Failures, stop.Seconds()
	return r
}

// outage is the steady overload with an outage in its middle.
func (e *env) outage(ctx context.Context, lib string, o Outage) Record {
	r := e.record(o.Name(), lib)
	cfg := e.cfg
	stop := cfg.OutagePre + o.Length + cfg.OutagePost
	res, c, err := e.scene(ctx, nil, []clientRun{{
		lib: lib, goroutines: cfg.Goroutines, stop: stop, window: stats.Span{To: stop},
	}}, []step{
		{cfg.OutagePre, "/outage?mode=" + o.Mode},
		{cfg.OutagePre + o.Length, "/outage?mode=off"},
	})
	if err != nil {
		return fail(r, err)
	}
	startAt := eventAt(c, "outage "+o.Mode, cfg.OutagePre)
	endAt := eventAt(c, "outage off", cfg.OutagePre+o.Length)
	acc := c.Series.Accepted
	before := stats.Rate(acc, bucket, stats.Span{From: cfg.OutagePre * 6 / 10, To: startAt})
	f := r.Figures
	f[FigBefore] = stats.Num(before / e.capacity)
	f[FigRecovery] = reach(acc, endAt, 0.9*before)
	att := stats.Sum(res[0].Series.Attempts, bucket, stats.Span{From: startAt, To: endAt})
	f[FigOutageAtt] = stats.Num(att)
	f[FigOutageAttPerS] = stats.Num(float64(att) / (endAt - startAt).Seconds())
	var ok, failed, local int64
	x := res[0].Series
	for i := range x.OK {
		ok += x.OK[i]
		failed += x.Failed[i]
		local += x.FailedLocal[i]
	}
	f[FigFailed] = ratio(failed, ok+failed)
	f[FigFailedLocal] = ratio(local, ok+failed)
	f[FigLocalPerS] = stats.Num(stats.Rate(x.FailedLocal, bucket, stats.Span{From: startAt, To: stop}))
	r.Accepted, r.Events, r.Failures, r.StopS = acc, c.Events, res[0].Failures, stop.Seconds()
	return r
}

// fleet is FleetProcs processes sharing the server, started together or
// staggered (one alone for FleetAlone, then the others).
func (e *env) fleet(ctx context.Context, lib string, staggered bool) Record {
	cfg := e.cfg
	name, join := "fleet-together", time.Duration(0)
	if staggered {
		name, join = "fleet-staggered", cfg.FleetAlone
	}
	r := e.record(name, lib)
	stop := join + cfg.Fleet.Warm + cfg.Fleet.Measure
	window := stats.Span{From: join + cfg.Fleet.Warm, To: stop}
	runs := make([]clientRun, cfg.FleetProcs)
	for i := range runs {
		runs[i] = clientRun{lib: lib, goroutines: cfg.FleetGoroutines, stop: stop, window: window}
		if i > 0 {
			runs[i].start = join
		}
	}
	res, _, err := e.scene(ctx, nil, runs, nil)
	if err != nil {
		return fail(r, err)
	}
	e.closed(&r, res, cfg.Fleet.Measure)
	r.StopS = stop.Seconds()
	var per []float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range res {
		per = append(per, float64(x.Window.OK))
		share := float64(x.Window.OK) / cfg.Fleet.Measure.Seconds() / e.capacity
		lo, hi = min(lo, share), max(hi, share)
		r.Procs = append(r.Procs, x.Series.OK[:min(len(x.Series.OK), int(stop/bucket)+1)])
	}
	f := r.Figures
	f[FigJainProcs] = stats.Num(stats.Jain(per...))
	f[FigShareMin], f[FigShareMax] = stats.Num(lo), stats.Num(hi)
	return r
}

// derive adds the figures that compare clients of the same repetition:
// the hot partition's goodput against ebb without its limiter, and the
// attempts during an outage against the client without retries.
func derive(records []Record, rep int) {
	find := func(scenario, client string) *Record {
		for i := range records {
			r := &records[i]
			if r.Rep == rep && r.Scenario == scenario && r.Client == client && r.Error == "" {
				return r
			}
		}
		return nil
	}
	for i := range records {
		r := &records[i]
		if r.Rep != rep || r.Error != "" {
			continue
		}
		switch {
		case r.Scenario == ScenarioHot:
			if ref := find(ScenarioHot, contender.KeyEbbNoLimiter); ref != nil {
				r.Figures[FigVsNoLimit] = r.Figures[FigOKPerS] / ref.Figures[FigOKPerS]
			}
		case strings.HasPrefix(r.Scenario, "outage-"):
			if ref := find(r.Scenario, contender.KeyNone); ref != nil {
				r.Figures[FigOutageShare] = r.Figures[FigOutageAtt] / ref.Figures[FigOutageAtt]
			}
		}
	}
}
