package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ebb-go/ebb/camundatest"
	"github.com/ebb-go/ebb/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// config is what the flags and the environment say.
type config struct {
	duration    time.Duration
	address     string // the cluster's REST address, normalised; empty runs the emulator
	jobType     string
	process     string
	concurrency int
	pollers     int
	errorShare  float64
	failShare   float64
	work        time.Duration
	maxFailed   float64 // share of failed requests above which the run failed
	metricsAddr string
	logLevel    slog.Level
	loaders     int

	// The emulated gateway.
	version     string
	gatewayAddr string
	slots       int
	serviceTime time.Duration

	// progress, when not nil, receives a line per tick; ticks, when not
	// nil, replaces the once-a-second ticker.
	progress io.Writer
	ticks    <-chan time.Time
	// ready, when set, is handed the summary once the run starts, its
	// metrics served on s.metricsAddr.
	ready func(s *summary)
}

// Defaults of the emulated gateway and its load.
const (
	defaultSlots       = 4
	defaultServiceTime = 10 * time.Millisecond
	defaultLoaders     = 16
)

// requestDeadline bounds each of the demo's requests, retries and waits for
// the limiter included (a long poll gets its requestTimeout on top).
const requestDeadline = 10 * time.Second

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

const usageHead = `Usage: go run ./examples/worker [flags]

A Camunda 8 job worker built on ebb. Without CAMUNDA_REST_ADDRESS it starts an
emulated Camunda gateway in-process, deliberately small, and overloads it with
process instance creations, so that backpressure really happens; it ends on its
own after -duration and prints a summary. While it runs it prints a progress
line a second when stdout is a terminal (not with -quiet).

Exit status: 0 when the run succeeded; 1 when it failed: the cluster did not
answer, requests failed and none succeeded, or more than -max-failed of the
demo's requests failed after ebb's retries (requests cut short by the demo's
own shutdown are no failures); 2 on a bad flag, variable or address. A failed
run ends with the cause of its first failure on stderr.

Environment:
  CAMUNDA_REST_ADDRESS   the cluster's REST address, such as http://localhost:8080
                         (a trailing /v2 is accepted); unset: the emulated gateway.
                         Against it the demo creates no load unless -load is given
                         (against go run ./examples/gateway, start that with
                         -process payment-process=payment so its jobs have the -job-type).
  EBB_* and CAMUNDA_SDK_* the transport's settings, read by transport.FromEnv over
                         the demo's own (go doc github.com/ebb-go/ebb/transport.FromEnv):
    retry    EBB_RETRY_MAX_ATTEMPTS (CAMUNDA_SDK_HTTP_RETRY_MAX_ATTEMPTS),
             EBB_RETRY_INITIAL_INTERVAL (CAMUNDA_SDK_HTTP_RETRY_BASE_DELAY_MS),
             EBB_RETRY_MAX_INTERVAL (CAMUNDA_SDK_HTTP_RETRY_MAX_DELAY_MS),
             EBB_RETRY_MULTIPLIER, EBB_RETRY_RANDOMIZATION, EBB_RETRY_MAX_RETRY_AFTER,
             EBB_RETRY_BUDGET_RATIO, EBB_ATTEMPT_TIMEOUT (the demo's: 5s)
    breaker  EBB_BREAKER (on/off), EBB_BREAKER_WINDOW, EBB_BREAKER_FAILURE_RATIO,
             EBB_BREAKER_MIN_REQUESTS, EBB_BREAKER_CONSECUTIVE_FAILURES,
             EBB_BREAKER_OPEN_TIMEOUT, EBB_BREAKER_MAX_OPEN_TIMEOUT, EBB_BREAKER_MAX_RETRY_AFTER,
             EBB_BREAKER_PROBES, EBB_BREAKER_PROBE_TIMEOUT
    limiter  EBB_LIMITER_PROFILE (CAMUNDA_SDK_BACKPRESSURE_PROFILE): balanced,
             conservative, aggressive, observe or off
    metrics  EBB_METRICS_NAMESPACE

Flags:
`

// cli parses the flags, runs, prints the summary and returns the exit code.
func cli(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	var c config
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "how long to run before stopping cleanly")
	fs.StringVar(&c.jobType, "job-type", "payment", "the job type to work on")
	fs.StringVar(&c.process, "process", "payment-process", "the process definition ID whose instances -load creates")
	fs.IntVar(&c.concurrency, "concurrency", 32, "jobs handled at once")
	fs.IntVar(&c.pollers, "pollers", 2, "activation loops")
	fs.Float64Var(&c.errorShare, "error-share", 0.1, "share of jobs answered with a BPMN error")
	fs.Float64Var(&c.failShare, "fail-share", 0.05, "share of jobs failed")
	fs.DurationVar(&c.work, "work", 5*time.Millisecond, "mean time to handle a job")
	fs.Float64Var(&c.maxFailed, "max-failed", 0.01, "the run fails when more than this share of the demo's requests fail after ebb's retries")
	c.loaders = defaultLoaders
	fs.Func("load", "`goroutines` creating process instances of -process in a closed loop; by default "+
		fmt.Sprint(defaultLoaders)+" against the emulated gateway, none against CAMUNDA_REST_ADDRESS", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return errors.New("want a whole number, 0 or more")
		}
		c.loaders = n
		return nil
	})
	fs.StringVar(&c.metricsAddr, "metrics-addr", "127.0.0.1:9464", "where to serve /metrics for Prometheus; empty disables")
	quiet := fs.Bool("quiet", false, "no progress line, even on a terminal")
	logLevel := fs.String("log-level", "error", "transport log level: debug, info, warn or error")
	fs.StringVar(&c.version, "gateway-version", "8.8.3", "emulated gateway: the Camunda release whose answers it gives: "+
		"8.6 or 8.7 (keys as JSON numbers, backpressure 429), 8.8.0 to 8.8.2 (backpressure 503, and 500 on job activation), "+
		"8.8.3 or any later 8.8, 8.9, 8.10 (backpressure 503)")
	fs.StringVar(&c.gatewayAddr, "gateway-addr", "127.0.0.1:0", "emulated gateway: address to listen on")
	fs.IntVar(&c.slots, "gateway-slots", defaultSlots, "emulated gateway: requests in service at once; 0 for unbounded (it never pushes back)")
	fs.DurationVar(&c.serviceTime, "gateway-service-time", defaultServiceTime, "emulated gateway: time to serve a request")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageHead)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintln(stderr, "worker: -h for help")
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "worker: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected arguments %q", fs.Args())
	}
	if err := c.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return bad("-log-level %q: %v", *logLevel, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	addr, err := restAddress(os.Getenv("CAMUNDA_REST_ADDRESS"))
	if err != nil {
		return bad("%v", err)
	}
	c.address = addr
	if c.address != "" {
		for _, name := range []string{"gateway-version", "gateway-addr", "gateway-slots", "gateway-service-time"} {
			if set[name] {
				return bad("-%s applies to the emulated gateway, which does not run with CAMUNDA_REST_ADDRESS set", name)
			}
		}
		if !set["load"] {
			c.loaders = 0
		}
	}
	c.progress = progressTo(stdout, *quiet, isTerminal)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, c, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		if _, ok := errors.AsType[configError](err); ok {
			return 2
		}
		return 1
	}
	sum.print(stdout)
	if failed, why := sum.failed(); failed {
		fmt.Fprintf(stderr, "worker: the run failed: %s\n", why)
		if at, err := sum.fails.firstFailure(); err != nil {
			fmt.Fprintf(stderr, "worker: the first failure, %.1fs in: %v\n", at.Seconds(), err)
		}
		return 1
	}
	return 0
}

// progressTo returns where progress lines go: stdout when it is a terminal,
// where they help, and -quiet was not given; nil otherwise, as a pipe or a
// file would only collect them.
func progressTo(stdout io.Writer, quiet bool, terminal func(io.Writer) bool) io.Writer {
	if quiet || !terminal(stdout) {
		return nil
	}
	return stdout
}

// isTerminal reports whether w is a character device, as a terminal is. It
// takes /dev/null for one too, which costs a line a second written nowhere;
// telling them apart would need a terminal ioctl, and a module for it.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// restAddress checks and normalises CAMUNDA_REST_ADDRESS: an http or https
// URL of the cluster's REST API, perhaps with a context path (/zeebe). A
// trailing /v2, as some of Camunda's SDKs write it, is dropped, since the
// demo adds /v2/... to every path. An address without a scheme is refused
// rather than guessed: http and https are both plausible.
func restAddress(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	bad := func(why string) error {
		return fmt.Errorf("CAMUNDA_REST_ADDRESS=%q: %s", raw, why)
	}
	if !strings.Contains(raw, "://") {
		return "", bad("no scheme; write http://" + raw + " (or https://...)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", bad(err.Error())
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad(fmt.Sprintf("scheme %q: want http or https", u.Scheme))
	case u.Host == "":
		return "", bad("no host; want something like http://localhost:8080")
	case u.RawQuery != "" || u.Fragment != "":
		return "", bad("a query or fragment has no place in a REST address")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.Path = strings.TrimSuffix(u.Path, "/v2")
	u.RawPath = ""
	return u.String(), nil
}

// configError marks errors in the flags or the environment.
type configError struct{ error }

// run works for c.duration or until ctx ends, and returns what happened.
func run(ctx context.Context, c config, logw io.Writer) (*summary, error) {
	switch {
	case c.duration <= 0:
		return nil, configError{fmt.Errorf("-duration %v: must be positive", c.duration)}
	case c.concurrency < 1 || c.pollers < 1:
		return nil, configError{errors.New("-concurrency and -pollers must be at least 1")}
	case c.errorShare < 0 || c.failShare < 0 || c.errorShare+c.failShare > 1:
		return nil, configError{errors.New("-error-share and -fail-share must be shares adding up to at most 1")}
	case c.maxFailed < 0 || c.maxFailed > 1:
		return nil, configError{fmt.Errorf("-max-failed %v: want a share, 0 to 1", c.maxFailed)}
	case c.loaders < 0:
		return nil, configError{fmt.Errorf("-load %d: must not be negative", c.loaders)}
	case c.slots < 0 || c.serviceTime < 0:
		return nil, configError{errors.New("-gateway-slots and -gateway-service-time must not be negative")}
	}

	// The client as a worker should build it: the program's own settings
	// in code, the deployment's variables layered over them field by field.
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: c.logLevel}))
	opts, err := transport.FromEnv(
		transport.WithAttemptTimeout(5*time.Second), // no attempt hangs; EBB_ATTEMPT_TIMEOUT overrides
		transport.WithMetrics(reg),
		transport.WithLogger(logger),
	)
	if err != nil {
		return nil, configError{err}
	}

	sum := &summary{config: c, started: time.Now(), registry: reg}
	sum.fails = &failures{start: sum.started}
	base := c.address
	var gw *camundatest.Gateway
	if base == "" {
		v, err := camundatest.ParseVersion(c.version)
		if err != nil {
			return nil, configError{fmt.Errorf("-gateway-version: %w", err)}
		}
		if c.gatewayAddr != "" {
			if _, _, err := net.SplitHostPort(c.gatewayAddr); err != nil {
				return nil, configError{fmt.Errorf("-gateway-addr %q: want host:port: %w", c.gatewayAddr, err)}
			}
		}
		gw, err = camundatest.New(
			camundatest.WithVersion(v),
			camundatest.WithAddr(cmp.Or(c.gatewayAddr, camundatest.DefaultAddr)),
			camundatest.WithProcess(c.process, c.jobType),
			camundatest.WithCapacity(camundatest.Capacity{Slots: c.slots, ServiceTime: c.serviceTime}),
		)
		if err != nil {
			// What New refuses comes from the flags (-process, -job-type).
			return nil, configError{fmt.Errorf("emulated gateway: %w", err)}
		}
		if err := gw.Start(); err != nil {
			return nil, fmt.Errorf("emulated gateway: %w", err)
		}
		defer gw.Close()
		base = gw.URL()
		sum.gateway, sum.version = gw, v
	}
	sum.address = base

	client := transport.NewClient(opts...)
	defer client.CloseIdleConnections()
	sum.chain = transport.Of(client)
	sum.namespace = sum.chain.Snapshot().Settings.Namespace
	a := &api{client: client, base: base, deadline: requestDeadline}

	if c.metricsAddr != "" {
		stopMetrics, addr, err := serveMetrics(c.metricsAddr, reg)
		if err != nil {
			fmt.Fprintf(logw, "worker: not serving metrics: %v\n", err)
		} else {
			defer stopMetrics()
			sum.metricsAddr = addr
		}
	}

	// A first request tells at once whether a cluster answers there.
	var topo struct {
		GatewayVersion string `json:"gatewayVersion"`
	}
	if err := a.call(ctx, http.MethodGet, "/v2/topology", nil, http.StatusOK, &topo, 0); err != nil {
		return nil, fmt.Errorf("the cluster at %s did not answer its topology: %w", redact(base), err)
	}
	sum.topology.ok.Add(1)
	sum.gatewayVersion = topo.GatewayVersion

	// The run ends by cancellation, not by a deadline: a deadline would let
	// the transport hand back a last refusal rather than wait past it, and
	// the demo's own stop would read as backpressure failures.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(c.duration, cancel)
	defer timer.Stop()

	w := &worker{api: a, jobType: c.jobType, name: "ebb-demo", concurrency: c.concurrency,
		errorShare: c.errorShare, failShare: c.failShare, work: c.work, fails: sum.fails}
	sum.worker = w
	var l *loader
	if c.loaders > 0 {
		l = &loader{api: a, process: c.process, fails: sum.fails}
		sum.loader = l
	}
	sum.progress = newProgress(sum, c.progress)
	if c.ready != nil {
		c.ready(sum)
	}

	var wg sync.WaitGroup
	if l != nil {
		wg.Go(func() { l.run(runCtx, c.loaders) })
	}
	wg.Go(func() { w.run(runCtx, c.pollers) })
	stopProgress := sum.progress.start(c.ticks)
	wg.Wait()
	stopProgress()
	sum.elapsed = time.Since(sum.started)
	sum.interrupted = ctx.Err() != nil
	sum.final = sum.chain.Snapshot()
	return sum, nil
}

// redact hides a password in an address.
func redact(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return addr
	}
	return u.Redacted()
}

// serveMetrics serves reg on addr until the returned function is called.
func serveMetrics(addr string, reg *prometheus.Registry) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, ln.Addr().String(), nil
}
