package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/limiter"
)

// job is the part of an activated job the worker needs.
type job struct {
	Key                key    `json:"jobKey"`
	ProcessInstanceKey key    `json:"processInstanceKey"`
	Type               string `json:"type"`
	Retries            int    `json:"retries"`
}

// tally counts the demo's requests of one kind by how they ended: with the
// answer expected, with a failure (after ebb's retries), or cut short
// because the demo was stopping.
type tally struct{ ok, failed, cut atomic.Int64 }

// failures records why requests failed: the first error of the run, and a
// count per cause.
type failures struct {
	start time.Time

	mu      sync.Mutex
	first   error
	firstAt time.Duration
	causes  map[string]int64
}

func (f *failures) add(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.first == nil {
		f.first, f.firstAt = err, time.Since(f.start)
	}
	if f.causes == nil {
		f.causes = map[string]int64{}
	}
	f.causes[causeOf(err)]++
}

// firstFailure returns when the run's first error came, and the error; nil
// when nothing failed.
func (f *failures) firstFailure() (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.firstAt, f.first
}

// byCause returns the causes, most frequent first.
func (f *failures) byCause() []causeCount {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []causeCount
	for _, c := range slices.Sorted(maps.Keys(f.causes)) {
		out = append(out, causeCount{c, f.causes[c]})
	}
	slices.SortStableFunc(out, func(a, b causeCount) int { return int(b.n - a.n) })
	return out
}

type causeCount struct {
	cause string
	n     int64
}

// causeOf names why a request failed, in words for the summary.
func causeOf(err error) string {
	if se, ok := errors.AsType[*statusError](err); ok {
		if se.title != "" {
			return fmt.Sprintf("answered %d %s", se.status, se.title)
		}
		return fmt.Sprintf("answered %d %s", se.status, http.StatusText(se.status))
	}
	switch {
	case errors.Is(err, breaker.ErrOpen):
		return "refused by the open breaker (nothing sent)"
	case errors.Is(err, limiter.ErrQueueFull):
		return "refused by the limiter, its queue full (nothing sent)"
	case errors.Is(err, context.DeadlineExceeded):
		return "past the request's deadline"
	}
	if _, ok := errors.AsType[*decodeError](err); ok {
		return "an answer the demo could not read"
	}
	return "no answer (connection failed)"
}

// record counts how a request ended. A request that failed once ctx (the
// run's) had ended was cut short by the demo's own shutdown: it is not a
// failure of the cluster or of ebb.
func record(ctx context.Context, t *tally, f *failures, err error) {
	switch {
	case err == nil:
		t.ok.Add(1)
	case ctx.Err() != nil:
		t.cut.Add(1)
	default:
		t.failed.Add(1)
		f.add(err)
	}
}

// worker polls for jobs of one type and handles them.
type worker struct {
	api         *api
	jobType     string
	name        string
	concurrency int
	errorShare  float64
	failShare   float64
	work        time.Duration // mean time to handle a job
	fails       *failures

	// Counters, read by the summary and the progress line.
	activated, completed, errored, failed, lost atomic.Int64
	emptyPolls                                  atomic.Int64
	polls, answers                              tally // activations; completions, failures and errors
}

// handled is the number of jobs answered so far.
func (w *worker) handled() int64 {
	return w.completed.Load() + w.errored.Load() + w.failed.Load()
}

// run polls until ctx ends, then waits for the jobs in hand. Handling uses a
// context of its own so that jobs already activated are finished, not
// dropped, when polling stops.
func (w *worker) run(ctx context.Context, pollers int) {
	slots := make(chan struct{}, w.concurrency)
	var handlers sync.WaitGroup
	var pollersWG sync.WaitGroup
	handleCtx := context.WithoutCancel(ctx)
	for i := range pollers {
		pollersWG.Go(func() { w.poll(ctx, handleCtx, i, slots, &handlers) })
	}
	pollersWG.Wait()
	handlers.Wait()
}

// backoff is the worker's delay after an empty or failed poll: Camunda's
// Java client defaults (50ms to 5s, factor 1.6, jitter 0.1).
type backoff struct{ d time.Duration }

func (b *backoff) next() time.Duration {
	const (
		minDelay = 50 * time.Millisecond
		maxDelay = 5 * time.Second
		factor   = 1.6
		jitter   = 0.1
	)
	b.d = min(max(time.Duration(float64(b.d)*factor), minDelay), maxDelay)
	return time.Duration(float64(b.d) * (1 + jitter*(2*rand.Float64()-1)))
}

func (b *backoff) reset() { b.d = 0 }

func (w *worker) poll(ctx, handleCtx context.Context, id int, slots chan struct{}, handlers *sync.WaitGroup) {
	var bo backoff
	for ctx.Err() == nil {
		// Ask for as many jobs as there are free hands, at least one.
		free := 0
		select {
		case slots <- struct{}{}:
			free = 1
		case <-ctx.Done():
			return
		}
	grab:
		for free < min(cap(slots), 32) {
			select {
			case slots <- struct{}{}:
				free++
			default:
				break grab
			}
		}
		jobs, err := w.activate(ctx, fmt.Sprintf("%s-%d", w.name, id), free)
		// A gateway that sends more jobs than asked for gets only as many
		// handled as there are slots; the rest time out on the broker.
		jobs = jobs[:min(len(jobs), free)]
		for range free - len(jobs) {
			<-slots
		}
		record(ctx, &w.polls, w.fails, err)
		switch {
		case ctx.Err() != nil:
			// The run is over; the jobs in hand are still handled.
		case err != nil:
			sleep(ctx, bo.next())
		case len(jobs) == 0:
			w.emptyPolls.Add(1)
			sleep(ctx, bo.next())
		default:
			bo.reset()
		}
		w.activated.Add(int64(len(jobs)))
		for _, j := range jobs {
			handlers.Go(func() {
				defer func() { <-slots }()
				w.handle(handleCtx, j)
			})
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// longPoll is how long the gateway may hold an activation open for jobs.
const longPoll = 2 * time.Second

// activate long-polls for up to max jobs.
func (w *worker) activate(ctx context.Context, worker string, max int) ([]job, error) {
	body := map[string]any{
		"type":              w.jobType,
		"worker":            worker,
		"maxJobsToActivate": max,
		"timeout":           30_000,                  // ms the jobs stay locked to this worker
		"requestTimeout":    longPoll.Milliseconds(), // ms the gateway may hold the poll open
	}
	var out struct {
		Jobs []job `json:"jobs"`
	}
	if err := w.api.call(ctx, http.MethodPost, "/v2/jobs/activation", body, http.StatusOK, &out, longPoll); err != nil {
		return nil, err
	}
	return out.Jobs, nil
}

// handle does the job's work and reports its outcome: a BPMN error for a
// share of jobs, a failure for another share, else completion. ctx does not
// end at shutdown: a job in hand is always answered, within the request's
// deadline.
func (w *worker) handle(ctx context.Context, j job) {
	time.Sleep(time.Duration(float64(w.work) * (0.5 + rand.Float64())))
	var (
		path    string
		body    any
		counter *atomic.Int64
	)
	switch r := rand.Float64(); {
	case r < w.errorShare:
		path, counter = "/v2/jobs/"+string(j.Key)+"/error", &w.errored
		body = map[string]any{"errorCode": "PAYMENT_DECLINED", "errorMessage": "card declined"}
	case r < w.errorShare+w.failShare:
		path, counter = "/v2/jobs/"+string(j.Key)+"/failure", &w.failed
		body = map[string]any{"retries": max(j.Retries-1, 0), "errorMessage": "payment provider timed out", "retryBackOff": 1000}
	default:
		path, counter = "/v2/jobs/"+string(j.Key)+"/completion", &w.completed
		body = map[string]any{"variables": map[string]any{"paid": true}}
	}
	err := w.api.call(ctx, http.MethodPost, path, body, http.StatusNoContent, nil, 0)
	record(ctx, &w.answers, w.fails, err)
	if err != nil {
		w.lost.Add(1)
		return
	}
	counter.Add(1)
}

// loader creates process instances in a closed loop, as fast as the cluster
// lets it, to overload it.
type loader struct {
	api     *api
	process string
	fails   *failures
	creates tally
}

func (l *loader) run(ctx context.Context, goroutines int) {
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for ctx.Err() == nil {
				body := map[string]any{"processDefinitionId": l.process, "variables": map[string]any{"amount": rand.IntN(1000)}}
				var out struct {
					Key key `json:"processInstanceKey"`
				}
				err := l.api.call(ctx, http.MethodPost, "/v2/process-instances", body, http.StatusOK, &out, 0)
				record(ctx, &l.creates, l.fails, err)
				if err != nil {
					sleep(ctx, 50*time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}
