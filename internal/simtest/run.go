package simtest

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Load is a group of clients sharing one http.RoundTripper: the goroutines
// of one process, each sending one request after another (a closed loop).
type Load struct {
	// Name labels the load in results.
	Name string
	// Transport carries the load's requests: the chain under test, ending
	// at a [Server].
	Transport http.RoundTripper
	// Clients is the number of goroutines.
	Clients int
	// Start and Stop bound the time the clients run, as offsets from the
	// start of [Run]; a zero Stop means the end of the run. Requests still
	// running at Stop are canceled and counted as unfinished.
	Start, Stop time.Duration
	// Method and URL are those of every request; empty means POST to
	// http://sim.test/v2/process-instances, a Camunda command that is not
	// safe to repeat, so only backpressure is retried.
	Method, URL string
	// Body is the body of every request; empty means none. It is sent
	// with Content-Type application/json and can be replayed.
	Body string
	// Think is a client's pause between two requests; zero means none.
	Think time.Duration
	// FailurePause is a client's pause after a request that failed. It
	// keeps a layer that refuses at once from spinning the simulation
	// without time passing; zero means 100ms.
	FailurePause time.Duration
}

// Counts are what one client, or a group of them, saw.
type Counts struct {
	// Requests counts the logical requests that ended before the load
	// stopped: Succeeded (a 2xx answer) plus Failed (any other answer or an
	// error).
	Requests, Succeeded, Failed int64
	// Unfinished counts the requests cut short by the end of the load.
	Unfinished int64
	// Attempts counts the attempts that reached the [Server], Rejected
	// those it refused with backpressure.
	Attempts, Rejected int64
}

// RejectedShare is Rejected / Attempts, or 0 when there were none.
func (c Counts) RejectedShare() float64 { return ratio(c.Rejected, c.Attempts) }

// FailedShare is Failed / Requests, or 0 when there were none.
func (c Counts) FailedShare() float64 { return ratio(c.Failed, c.Requests) }

// String gives the counts and the shares of failed requests and rejected
// attempts on one line, for test logs.
func (c Counts) String() string {
	return fmt.Sprintf("requests %d (ok %d, failed %d = %.2f%%, unfinished %d), attempts %d (rejected %d = %.2f%%)",
		c.Requests, c.Succeeded, c.Failed, 100*c.FailedShare(), c.Unfinished, c.Attempts, c.Rejected, 100*c.RejectedShare())
}

func (c *Counts) add(o Counts) {
	c.Requests += o.Requests
	c.Succeeded += o.Succeeded
	c.Failed += o.Failed
	c.Unfinished += o.Unfinished
	c.Attempts += o.Attempts
	c.Rejected += o.Rejected
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Result is the outcome of [Run].
type Result struct {
	// Duration is the simulated length of the run.
	Duration time.Duration
	// Loads holds one result per load, in the order given to Run.
	Loads []LoadResult
}

// LoadResult is what the clients of one [Load] saw.
type LoadResult struct {
	// Name is the load's.
	Name string
	// Clients holds each client's counts, Total their sum.
	Clients []Counts
	Total   Counts
	// Timeline counts the requests that succeeded in each second of the
	// run: Timeline[i] those that ended in [i s, i+1 s).
	Timeline []int64
	// Steps counts them in each [Step] of the run: Steps[i] those that
	// ended in [i·Step, (i+1)·Step).
	Steps []int64
	// AttemptSteps and RejectedSteps count the attempts that reached the
	// [Server], and those it refused with backpressure, in each Step, by
	// the time they reached it.
	AttemptSteps, RejectedSteps []int64
	// Durations holds how long each logical request that ended took, from
	// its first attempt to its final answer, failures included; Ends holds
	// when each ended, as an offset from the start of the run.
	Durations, Ends []time.Duration
}

// Step is the resolution of [LoadResult.Steps] and of
// [Result.GoodputBetween].
const Step = 100 * time.Millisecond

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the durations of the
// load's requests, or 0 when none ended.
func (l LoadResult) Quantile(q float64) time.Duration { return quantile(l.Durations, q) }

// between returns the durations of the requests that ended in [from, to).
func (l LoadResult) between(from, to time.Duration) []time.Duration {
	var ds []time.Duration
	for i, e := range l.Ends {
		if e >= from && e < to {
			ds = append(ds, l.Durations[i])
		}
	}
	return ds
}

// Starved counts the clients that got fewer than frac times the mean number
// of successes of the load's clients.
func (l LoadResult) Starved(frac float64) int {
	if len(l.Clients) == 0 {
		return 0
	}
	mean := float64(l.Total.Succeeded) / float64(len(l.Clients))
	n := 0
	for _, c := range l.Clients {
		if float64(c.Succeeded) < frac*mean {
			n++
		}
	}
	return n
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Total returns the sum of the counts of every load.
func (r Result) Total() Counts {
	var c Counts
	for _, l := range r.Loads {
		c.add(l.Total)
	}
	return c
}

// Goodput returns the successful requests per second of every load
// together, over the whole run.
func (r Result) Goodput() float64 {
	return float64(r.Total().Succeeded) / r.Duration.Seconds()
}

// GoodputBetween returns the successful requests per second of every load
// together between two offsets from the start of the run, rounded down to
// a [Step].
func (r Result) GoodputBetween(from, to time.Duration) float64 {
	var n int64
	a, b := int(from/Step), int(to/Step)
	for _, l := range r.Loads {
		for i := a; i < b && i < len(l.Steps); i++ {
			n += l.Steps[i]
		}
	}
	return float64(n) / (time.Duration(b-a) * Step).Seconds()
}

// RejectedBetween returns the share of the attempts of every load that
// reached the server between two offsets from the start of the run, rounded
// down to a [Step], that it refused with backpressure.
func (r Result) RejectedBetween(from, to time.Duration) float64 {
	var a, n int64
	for _, l := range r.Loads {
		for i := int(from / Step); i < int(to/Step) && i < len(l.AttemptSteps); i++ {
			a += l.AttemptSteps[i]
			n += l.RejectedSteps[i]
		}
	}
	return ratio(n, a)
}

// Quantile returns the q-quantile of the durations of every load's
// requests together.
func (r Result) Quantile(q float64) time.Duration { return r.QuantileBetween(0, r.Duration, q) }

// QuantileBetween returns the q-quantile of the durations of the requests
// of every load that ended between two offsets from the start of the run.
func (r Result) QuantileBetween(from, to time.Duration, q float64) time.Duration {
	var all []time.Duration
	for _, l := range r.Loads {
		all = append(all, l.between(from, to)...)
	}
	return quantile(all, q)
}

// Run drives the loads for the simulated duration d and returns what their
// clients saw. It returns once every client has stopped; requests still
// running at the end are canceled.
//
// Run is meant to be called inside a testing/synctest bubble, where a
// minute of simulated traffic takes milliseconds and the timing of every
// event is exact; outside one it runs in real time. The order in which
// goroutines run at the same simulated instant is still the scheduler's, so
// results vary slightly from one run to the next.
func Run(d time.Duration, loads ...Load) Result {
	start := time.Now()
	steps := int((d + Step - 1) / Step)
	res := Result{Duration: d, Loads: make([]LoadResult, len(loads))}
	var wg sync.WaitGroup
	for i, l := range loads {
		lr := &res.Loads[i]
		lr.Name = l.Name
		lr.Clients = make([]Counts, l.Clients)
		lr.Timeline = make([]int64, (d+time.Second-1)/time.Second)
		lr.Steps = make([]int64, steps)
		timeline := make([]atomic.Int64, steps)
		durations := make([][2][]time.Duration, l.Clients)
		ls := &loadSteps{start: start, attempts: make([]atomic.Int64, steps), rejected: make([]atomic.Int64, steps)}
		stop := l.Stop
		if stop == 0 || stop > d {
			stop = d
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopTimer := time.AfterFunc(stop, cancel)
		var lwg sync.WaitGroup
		for c := range l.Clients {
			lwg.Go(func() {
				lr.Clients[c] = client(ctx, l, start, timeline, &durations[c], ls)
			})
		}
		wg.Go(func() {
			lwg.Wait()
			stopTimer.Stop()
			cancel()
			lr.AttemptSteps, lr.RejectedSteps = make([]int64, steps), make([]int64, steps)
			for i := range timeline {
				lr.Steps[i] = timeline[i].Load()
				lr.AttemptSteps[i], lr.RejectedSteps[i] = ls.attempts[i].Load(), ls.rejected[i].Load()
				lr.Timeline[time.Duration(i)*Step/time.Second] += lr.Steps[i]
			}
			for c := range lr.Clients {
				lr.Total.add(lr.Clients[c])
				lr.Durations = append(lr.Durations, durations[c][0]...)
				lr.Ends = append(lr.Ends, durations[c][1]...)
			}
		})
	}
	wg.Wait()
	return res
}

type clientKey struct{}

// counters are a client's attempts, counted by the Server through the
// request's context, in total and per Step of its load.
type counters struct {
	attempts, rejected atomic.Int64
	steps              *loadSteps
}

// loadSteps counts a load's attempts and rejections per Step, by the time
// they reached the server.
type loadSteps struct {
	start              time.Time
	attempts, rejected []atomic.Int64
}

func (l *loadSteps) add(a []atomic.Int64) {
	if i := int(time.Since(l.start) / Step); i >= 0 && i < len(a) {
		a[i].Add(1)
	}
}

func (c *counters) attempt() {
	c.attempts.Add(1)
	c.steps.add(c.steps.attempts)
}

func (c *counters) reject() {
	c.rejected.Add(1)
	c.steps.add(c.steps.rejected)
}

func client(ctx context.Context, l Load, start time.Time, timeline []atomic.Int64, durations *[2][]time.Duration, steps *loadSteps) Counts {
	method, url := l.Method, l.URL
	if method == "" {
		method = http.MethodPost
	}
	if url == "" {
		url = "http://sim.test/v2/process-instances"
	}
	pause := l.FailurePause
	if pause == 0 {
		pause = 100 * time.Millisecond
	}
	cs := counters{steps: steps}
	ctx = context.WithValue(ctx, clientKey{}, &cs)
	var c Counts
	if !sleep(ctx, l.Start) {
		return c
	}
	for ctx.Err() == nil {
		var body io.Reader
		if l.Body != "" {
			body = strings.NewReader(l.Body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, body)
		if err != nil {
			panic(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		sent := time.Now()
		resp, err := l.Transport.RoundTrip(req)
		if resp != nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		now := time.Now()
		wait := l.Think
		switch {
		case ctx.Err() != nil && (err != nil || resp.StatusCode >= 300):
			// Cut short by the end of the load, not by the server.
			c.Unfinished++
		case err == nil && resp.StatusCode < 300:
			c.Requests++
			c.Succeeded++
			durations[0], durations[1] = append(durations[0], now.Sub(sent)), append(durations[1], now.Sub(start))
			if b := int(now.Sub(start) / Step); b < len(timeline) {
				timeline[b].Add(1)
			}
		default:
			c.Requests++
			c.Failed++
			durations[0], durations[1] = append(durations[0], now.Sub(sent)), append(durations[1], now.Sub(start))
			wait = max(wait, pause)
		}
		if now.Equal(sent) {
			// A transport that answers without time passing would spin
			// forever in a bubble.
			wait = max(wait, time.Millisecond)
		}
		if !sleep(ctx, wait) {
			break
		}
	}
	c.Attempts, c.Rejected = cs.attempts.Load(), cs.rejected.Load()
	return c
}

// sleep waits for d unless ctx ends first, and reports whether it did not.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Jain returns Jain's fairness index of the shares xs: (Σx)² / (n·Σx²),
// 1 when all are equal and 1/n when one takes everything. It returns 0 when
// xs is empty or all zero.
func Jain(xs ...float64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	if sq == 0 {
		return 0
	}
	return sum * sum / (float64(len(xs)) * sq)
}
