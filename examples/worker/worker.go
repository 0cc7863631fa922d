package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// job is the part of an activated job the worker needs.
type job struct {
	Key       string          `json:"jobKey"`
	Type      string          `json:"type"`
	Retries   int             `json:"retries"`
	Variables json.RawMessage `json:"variables"`
}

// worker polls for jobs of one type and handles them.
type worker struct {
	client      *http.Client
	base        string // REST address, without a trailing slash
	jobType     string
	name        string
	concurrency int
	errorShare  float64
	failShare   float64
	work        time.Duration // mean time to handle a job

	// Counters, read by the summary.
	activated, completed, errored, failed, lost atomic.Int64
	polls, emptyPolls, pollErrors               atomic.Int64
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
		for range free - len(jobs) {
			<-slots
		}
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			w.pollErrors.Add(1)
			sleep(ctx, bo.next())
			continue
		case len(jobs) == 0:
			w.emptyPolls.Add(1)
			sleep(ctx, bo.next())
			continue
		}
		bo.reset()
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

// activate long-polls for up to max jobs.
func (w *worker) activate(ctx context.Context, worker string, max int) ([]job, error) {
	w.polls.Add(1)
	body := map[string]any{
		"type":              w.jobType,
		"worker":            worker,
		"maxJobsToActivate": max,
		"timeout":           30_000, // ms the jobs stay locked to this worker
		"requestTimeout":    2_000,  // ms the gateway may hold the poll open
	}
	var out struct {
		Jobs []job `json:"jobs"`
	}
	if err := w.post(ctx, "/v2/jobs/activation", body, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return out.Jobs, nil
}

// handle does the job's work and reports its outcome: a BPMN error for a
// share of jobs, a failure for another share, else completion.
func (w *worker) handle(ctx context.Context, j job) {
	time.Sleep(time.Duration(float64(w.work) * (0.5 + rand.Float64())))
	var (
		path    string
		body    any
		counter *atomic.Int64
	)
	switch r := rand.Float64(); {
	case r < w.errorShare:
		path, counter = "/v2/jobs/"+j.Key+"/error", &w.errored
		body = map[string]any{"errorCode": "PAYMENT_DECLINED", "errorMessage": "card declined"}
	case r < w.errorShare+w.failShare:
		path, counter = "/v2/jobs/"+j.Key+"/failure", &w.failed
		body = map[string]any{"retries": max(j.Retries-1, 0), "errorMessage": "payment provider timed out", "retryBackOff": 1000}
	default:
		path, counter = "/v2/jobs/"+j.Key+"/completion", &w.completed
		body = map[string]any{"variables": map[string]any{"paid": true}}
	}
	if err := w.post(ctx, path, body, http.StatusNoContent, nil); err != nil {
		w.lost.Add(1)
		return
	}
	counter.Add(1)
}

// post sends a JSON body and decodes the answer into out (when not nil),
// failing unless the status is want.
func (w *worker) post(ctx context.Context, path string, body any, want int, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.base+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w", path, err)
	}
	return nil
}

// loader creates process instances in a closed loop, as fast as the cluster
// lets it, to overload the emulated gateway.
type loader struct {
	client  *http.Client
	base    string
	process string
	created atomic.Int64
	failed  atomic.Int64
}

func (l *loader) run(ctx context.Context, goroutines int) {
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			w := worker{client: l.client, base: l.base}
			for ctx.Err() == nil {
				body := map[string]any{"processDefinitionId": l.process, "variables": map[string]any{"amount": rand.IntN(1000)}}
				var out struct {
					Key string `json:"processInstanceKey"`
				}
				err := w.post(ctx, "/v2/process-instances", body, http.StatusOK, &out)
				switch {
				case err == nil:
					l.created.Add(1)
				case ctx.Err() != nil || errors.Is(err, context.Canceled):
					return
				default:
					l.failed.Add(1)
					sleep(ctx, 50*time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}
