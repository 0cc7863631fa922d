package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ebb-go/ebb/bench/internal/contender"
	"github.com/ebb-go/ebb/bench/internal/stats"
	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/limiter"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
)

// Bucket is the step of the client's time series.
const Bucket = 100 * time.Millisecond

// Body is what every request sends.
const Body = `{"processDefinitionId":"order"}`

// errStopped is the cause of the run's end.
var errStopped = errors.New("load: the run is over")

// maxEach bounds Result.Each.
const maxEach = 10000

// Config says what one client process does.
type Config struct {
	// Lib is the contender's key (contender.Lookup).
	Lib string
	// URL is the server's base URL, on loopback.
	URL string
	// Goroutines is the number of closed loops.
	Goroutines int
	// T0 is the instant every offset counts from.
	T0 time.Time
	// Start and Stop bound the goroutines' run, from T0.
	Start, Stop time.Duration
	// Window is the span, from T0, that the window figures cover.
	Window stats.Span
	// Timeout bounds each logical request. 0 means 10s.
	Timeout time.Duration
	// Requests, when positive, is the number of requests each goroutine
	// sends before it stops (and Result.Each lists their durations);
	// 0 means as many as fit before Stop.
	Requests int
}

// Result is what a client process reports.
type Result struct {
	Lib        string `json:"lib"`
	Name       string `json:"name"`
	Goroutines int    `json:"goroutines"`
	T0         int64  `json:"t0_unix_ns"`
	BucketMS   int    `json:"bucket_ms"`
	// LateMS is how far behind T0+Start the goroutines started.
	LateMS float64 `json:"late_ms"`
	// Series count by 100ms bucket from T0.
	Series Series `json:"series"`
	// Window holds the figures of the measured span.
	Window Tally `json:"window"`
	// RunOK counts each goroutine's successes over the whole run.
	RunOK []int64 `json:"run_ok"`
	// Latency counts the durations of the logical requests that ended in
	// the window, failures included.
	Latency stats.Hist `json:"latency"`
	// EachMS lists the duration of each logical request in the order they
	// ended, when Config.Requests is positive (at most 10,000).
	EachMS []float64 `json:"each_ms,omitempty"`
	// EachAttempts lists the attempts each of those requests took.
	EachAttempts []int64 `json:"each_attempts,omitempty"`
	// EachOK says which of them succeeded.
	EachOK []bool `json:"each_ok,omitempty"`
	// Failures counts the failed logical requests of the run by reason.
	Failures map[string]int64 `json:"failures"`
	// Stuck counts goroutines that had not returned 5s after their last
	// request's deadline; they are abandoned.
	Stuck int `json:"stuck"`
	// Deps are the versions of the contenders' modules in this binary.
	Deps map[string]string `json:"deps"`
}

// Series are per-bucket counts.
type Series struct {
	// Attempts sent, by the instant each was sent.
	Attempts []int64 `json:"attempts"`
	// AttemptsOK are those answered 2xx.
	AttemptsOK []int64 `json:"attempts_ok"`
	// AttemptErrors are those that got no answer (refused dial, reset).
	AttemptErrors []int64 `json:"attempt_errors"`
	// OK and Failed count logical requests by the instant they ended.
	OK     []int64 `json:"ok"`
	Failed []int64 `json:"failed"`
	// FailedLocal are the failed requests that sent no attempt: refused
	// inside the client (an open breaker, a full queue).
	FailedLocal []int64 `json:"failed_local"`
}

// Tally counts what happened in the window.
type Tally struct {
	// Requests, OK and Failed count the logical requests that ended in
	// the window.
	Requests int64 `json:"requests"`
	OK       int64 `json:"ok"`
	Failed   int64 `json:"failed"`
	// FailedLocal are the failed requests that sent no attempt.
	FailedLocal int64 `json:"failed_local"`
	// Attempts, AttemptsOK and AttemptErrors count the attempts sent in
	// the window.
	Attempts      int64 `json:"attempts"`
	AttemptsOK    int64 `json:"attempts_ok"`
	AttemptErrors int64 `json:"attempt_errors"`
	// PerGoroutine counts each goroutine's successes in the window.
	PerGoroutine []int64 `json:"per_goroutine"`
}

// recorder collects the counts of a run; goroutines record into their own
// slot of the per-goroutine parts, and into atomics for the shared ones.
type recorder struct {
	cfg    Config
	window struct{ from, to time.Time }

	attempts, attemptsOK, attemptErrors, ok, failed, failedLocal []atomic.Int64

	wAttempts, wAttemptsOK, wAttemptErrors atomic.Int64
}

func newRecorder(cfg Config) *recorder {
	n := int((cfg.Stop+cfg.Timeout)/Bucket) + 50
	r := &recorder{
		cfg:           cfg,
		attempts:      make([]atomic.Int64, n),
		attemptsOK:    make([]atomic.Int64, n),
		attemptErrors: make([]atomic.Int64, n),
		ok:            make([]atomic.Int64, n),
		failed:        make([]atomic.Int64, n),
		failedLocal:   make([]atomic.Int64, n),
	}
	r.window.from = cfg.T0.Add(cfg.Window.From)
	r.window.to = cfg.T0.Add(cfg.Window.To)
	return r
}

func (r *recorder) bucket(t time.Time) int {
	d := t.Sub(r.cfg.T0)
	if d < 0 {
		return -1
	}
	if i := int(d / Bucket); i < len(r.ok) {
		return i
	}
	return -1
}

func (r *recorder) inWindow(t time.Time) bool {
	return !t.Before(r.window.from) && t.Before(r.window.to)
}

func add(a []atomic.Int64, i int) {
	if i >= 0 {
		a[i].Add(1)
	}
}

// attemptsKey is the context key of a logical request's attempt counter,
// which the contenders pass down to every attempt with the request's
// context.
type attemptsKey struct{}

// counting is the base every contender is built over: it counts each
// attempt and passes it on.
type counting struct {
	next http.RoundTripper
	rec  *recorder
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	if n, ok := req.Context().Value(attemptsKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
	resp, err := c.next.RoundTrip(req)
	r := c.rec
	if err != nil && errors.Is(context.Cause(req.Context()), errStopped) {
		// Cut short by the end of the run: it counts nowhere.
		return resp, err
	}
	b := r.bucket(start)
	w := r.inWindow(start)
	add(r.attempts, b)
	if w {
		r.wAttempts.Add(1)
	}
	switch {
	case err != nil:
		add(r.attemptErrors, b)
		if w {
			r.wAttemptErrors.Add(1)
		}
	case resp.StatusCode/100 == 2:
		add(r.attemptsOK, b)
		if w {
			r.wAttemptsOK.Add(1)
		}
	}
	return resp, err
}

// CloseIdleConnections reaches the pool under the counter.
func (c *counting) CloseIdleConnections() {
	if ci, ok := c.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// goroutine is what one loop collects on its own.
type goroutine struct {
	windowOK, runOK int64
	windowLocal     int64
	attempts        atomic.Int64 // of the current request
	latency         stats.Hist
	failures        map[string]int64
	each            []float64
	eachAttempts    []int64
	eachOK          []bool
}

// Run drives cfg.Goroutines closed loops through the contender cfg.Lib and
// returns what they saw. It returns early if ctx ends.
func Run(ctx context.Context, cfg Config) (Result, error) {
	c, err := contender.Lookup(cfg.Lib)
	if err != nil {
		return Result{}, err
	}
	if err := checkURL(cfg.URL); err != nil {
		return Result{}, err
	}
	if cfg.Goroutines <= 0 {
		return Result{}, fmt.Errorf("load: %d goroutines", cfg.Goroutines)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	rec := newRecorder(cfg)
	pool := http.DefaultTransport.(*http.Transport).Clone()
	pool.MaxIdleConns = 0
	pool.MaxIdleConnsPerHost = 1024
	base := &counting{next: pool, rec: rec}
	client := &http.Client{Transport: c.New(base)}
	defer client.CloseIdleConnections()
	target := strings.TrimSuffix(cfg.URL, "/") + "/v2/process-instances"

	// run ends at Stop: no new request, and those in flight are cancelled.
	stopAt := cfg.T0.Add(cfg.Stop)
	run, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopper := time.AfterFunc(time.Until(stopAt), func() { cancel(errStopped) })
	defer stopper.Stop()

	startAt := cfg.T0.Add(cfg.Start)
	var late time.Duration
	if d := time.Until(startAt); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	} else {
		late = -d
	}

	gs := make([]goroutine, cfg.Goroutines)
	var (
		wg       sync.WaitGroup
		returned atomic.Int64
	)
	for i := range gs {
		g := &gs[i]
		g.failures = map[string]int64{}
		wg.Go(func() {
			defer returned.Add(1)
			loop(run, cfg, client, target, rec, g)
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	stuck := 0
	select {
	case <-done:
	case <-time.After(time.Until(stopAt) + cfg.Timeout + 5*time.Second):
		// Every request has a deadline; a goroutine still running now is
		// stuck in the contender. Report it rather than wait forever.
		stuck = cfg.Goroutines - int(returned.Load())
	}
	res := Result{
		Lib: c.Key, Name: c.Name, Goroutines: cfg.Goroutines,
		T0: cfg.T0.UnixNano(), BucketMS: int(Bucket / time.Millisecond),
		LateMS:   float64(late) / float64(time.Millisecond),
		Failures: map[string]int64{},
		Deps:     deps(),
	}
	if stuck > 0 {
		// The goroutines' own slots may still change: report the shared
		// counts only.
		res.Stuck = stuck
		res.Series = rec.series()
		return res, nil
	}
	res.Series = rec.series()
	res.Window = Tally{
		Attempts:      rec.wAttempts.Load(),
		AttemptsOK:    rec.wAttemptsOK.Load(),
		AttemptErrors: rec.wAttemptErrors.Load(),
	}
	for i := range gs {
		g := &gs[i]
		res.Window.PerGoroutine = append(res.Window.PerGoroutine, g.windowOK)
		res.RunOK = append(res.RunOK, g.runOK)
		res.Latency.Merge(&g.latency)
		for k, v := range g.failures {
			res.Failures[k] += v
		}
		if len(res.EachMS) < maxEach {
			res.EachMS = append(res.EachMS, g.each...)
			res.EachOK = append(res.EachOK, g.eachOK...)
			res.EachAttempts = append(res.EachAttempts, g.eachAttempts...)
		}
	}
	res.Window.OK = sum(res.Window.PerGoroutine)
	for i := range gs {
		res.Window.FailedLocal += gs[i].windowLocal
	}
	res.Window.Requests = res.Latency.N()
	res.Window.Failed = res.Window.Requests - res.Window.OK
	return res, nil
}

func sum(a []int64) (n int64) {
	for _, v := range a {
		n += v
	}
	return n
}

func (r *recorder) series() Series {
	load := func(a []atomic.Int64) []int64 {
		out := make([]int64, len(a))
		for i := range a {
			out[i] = a[i].Load()
		}
		return out
	}
	return Series{
		Attempts:      load(r.attempts),
		AttemptsOK:    load(r.attemptsOK),
		AttemptErrors: load(r.attemptErrors),
		OK:            load(r.ok),
		Failed:        load(r.failed),
		FailedLocal:   load(r.failedLocal),
	}
}

// loop is one goroutine's closed loop.
func loop(run context.Context, cfg Config, client *http.Client, target string, rec *recorder, g *goroutine) {
	counted := context.WithValue(run, attemptsKey{}, &g.attempts)
	for n := 0; cfg.Requests == 0 || n < cfg.Requests; n++ {
		if run.Err() != nil {
			return
		}
		g.attempts.Store(0)
		start := time.Now()
		ok, reason := send(counted, cfg.Timeout, client, target)
		end := time.Now()
		local := !ok && g.attempts.Load() == 0
		if !ok && run.Err() != nil {
			// Cut short by the end of the run: it counts nowhere.
			return
		}
		b := rec.bucket(end)
		if ok {
			g.runOK++
			add(rec.ok, b)
		} else {
			g.failures[reason]++
			add(rec.failed, b)
			if local {
				add(rec.failedLocal, b)
			}
		}
		if rec.inWindow(end) {
			g.latency.Add(end.Sub(start))
			if ok {
				g.windowOK++
			}
			if local {
				g.windowLocal++
			}
		}
		if cfg.Requests > 0 && len(g.each) < maxEach {
			g.each = append(g.each, float64(end.Sub(start))/float64(time.Millisecond))
			g.eachOK = append(g.eachOK, ok)
			g.eachAttempts = append(g.eachAttempts, g.attempts.Load())
		}
	}
}

// send makes one logical request and reports whether it succeeded, and
// if not, why.
func send(run context.Context, timeout time.Duration, client *http.Client, target string) (bool, string) {
	ctx, cancel := context.WithTimeout(run, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(Body))
	if err != nil {
		return false, "request: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return false, reason(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return false, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return true, ""
}

var digits = regexp.MustCompile(`[0-9]+`)

// reason names the cause of a failed request in a few words, the same for
// every request that failed the same way.
func reason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "context deadline (10s)"
	case errors.Is(err, breaker.ErrOpen):
		return "ebb: breaker open"
	case errors.Is(err, limiter.ErrQueueFull):
		return "ebb: limiter queue full"
	case errors.Is(err, circuitbreaker.ErrOpen):
		return "failsafe-go: breaker open"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset or closed"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "network timeout"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "Post ") {
		msg = msg[i+2:]
	}
	msg = digits.ReplaceAllString(msg, "N")
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return msg
}

// checkURL refuses anything but http on a loopback IP.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("load: URL %q: %w", raw, err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Scheme != "http" || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("load: URL %q: want http on a loopback IP", raw)
	}
	return nil
}

// deps reads the versions of the contenders' modules from the binary.
func deps() map[string]string {
	out := map[string]string{}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	for _, d := range info.Deps {
		switch d.Path {
		case "github.com/ebb-go/ebb", "github.com/hashicorp/go-retryablehttp", "github.com/failsafe-go/failsafe-go":
			v := d.Version
			if d.Replace != nil {
				v += " => " + d.Replace.Path
			}
			out[d.Path] = v
		}
	}
	return out
}
