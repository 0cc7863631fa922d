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
	"os"
	"os/signal"
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
	address     string // CAMUNDA_REST_ADDRESS; empty runs the emulator
	jobType     string
	concurrency int
	pollers     int
	errorShare  float64
	failShare   float64
	work        time.Duration
	metricsAddr string
	logLevel    slog.Level

	// The emulated gateway and its load.
	version     string
	gatewayAddr string
	slots       int
	serviceTime time.Duration
	loaders     int

	// metricsReady, when set, is told the address /metrics is served on.
	metricsReady func(addr string)
}

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli parses the flags, runs, prints the summary and returns the exit code.
func cli(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "how long to run before stopping cleanly")
	fs.StringVar(&c.jobType, "job-type", "payment", "the job type to work on")
	fs.IntVar(&c.concurrency, "concurrency", 32, "jobs handled at once")
	fs.IntVar(&c.pollers, "pollers", 2, "activation loops")
	fs.Float64Var(&c.errorShare, "error-share", 0.1, "share of jobs answered with a BPMN error")
	fs.Float64Var(&c.failShare, "fail-share", 0.05, "share of jobs failed")
	fs.DurationVar(&c.work, "work", 5*time.Millisecond, "mean time to handle a job")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "127.0.0.1:9464", "where to serve /metrics for Prometheus; empty disables")
	logLevel := fs.String("log-level", "error", "transport log level: debug, info, warn or error")
	fs.StringVar(&c.version, "gateway-version", "8.8.3", "emulated gateway: server version whose backpressure answers it gives (8.6, 8.8.0, 8.8.3)")
	fs.StringVar(&c.gatewayAddr, "gateway-addr", "127.0.0.1:0", "emulated gateway: address to listen on")
	fs.IntVar(&c.slots, "gateway-slots", 4, "emulated gateway: requests in service at once")
	fs.DurationVar(&c.serviceTime, "gateway-service-time", 10*time.Millisecond, "emulated gateway: time to serve a request")
	fs.IntVar(&c.loaders, "load", 16, "emulated gateway: goroutines creating process instances")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := c.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "worker: -log-level %q: %v\n", *logLevel, err)
		return 2
	}
	c.address = strings.TrimRight(os.Getenv("CAMUNDA_REST_ADDRESS"), "/")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, c, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		var ce configError
		if errors.As(err, &ce) {
			return 2
		}
		return 1
	}
	sum.print(stdout)
	return 0
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
	}
	envOpts, err := transport.FromEnv()
	if err != nil {
		return nil, configError{err}
	}

	sum := &summary{config: c, started: time.Now()}
	base := c.address
	var gw *camundatest.Gateway
	if base == "" {
		v, err := camundatest.ParseVersion(c.version)
		if err != nil {
			return nil, configError{fmt.Errorf("-gateway-version: %w", err)}
		}
		gw, err = camundatest.New(
			camundatest.WithVersion(v),
			camundatest.WithAddr(cmp.Or(c.gatewayAddr, camundatest.DefaultAddr)),
			camundatest.WithProcess("payment-process", c.jobType),
			camundatest.WithCapacity(camundatest.Capacity{Slots: c.slots, ServiceTime: c.serviceTime}),
		)
		if err != nil {
			return nil, fmt.Errorf("emulated gateway: %w", err)
		}
		if err := gw.Start(); err != nil {
			return nil, fmt.Errorf("emulated gateway: %w", err)
		}
		defer gw.Close()
		base = gw.URL()
		sum.gateway = gw
	}
	sum.address = base

	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: c.logLevel}))
	opts := append(envOpts, transport.WithMetrics(reg), transport.WithLogger(logger))
	client := transport.NewClient(opts...)
	defer client.CloseIdleConnections()
	sum.registry = reg

	if c.metricsAddr != "" {
		stopMetrics, addr, err := serveMetrics(c.metricsAddr, reg)
		if err != nil {
			fmt.Fprintf(logw, "worker: not serving metrics: %v\n", err)
		} else {
			defer stopMetrics()
			sum.metricsAddr = addr
			if c.metricsReady != nil {
				c.metricsReady(addr)
			}
		}
	}

	runCtx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	w := &worker{client: client, base: base, jobType: c.jobType, name: "ebb-demo", concurrency: c.concurrency,
		errorShare: c.errorShare, failShare: c.failShare, work: c.work}
	sum.worker = w
	var wg sync.WaitGroup
	if gw != nil {
		l := &loader{client: client, base: base, process: "payment-process"}
		sum.loader = l
		wg.Go(func() { l.run(runCtx, c.loaders) })
	}
	wg.Go(func() { w.run(runCtx, c.pollers) })
	wg.Wait()
	sum.elapsed = time.Since(sum.started)
	sum.interrupted = ctx.Err() != nil
	return sum, nil
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
