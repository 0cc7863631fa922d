package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ebb-go/ebb/camundatest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli(ctx, os.Args[1:], os.Stdout, os.Stderr, nil))
}

// cli parses the flags, serves until ctx ends, prints the counters and
// returns the exit code. ready, if not nil, is told the gateway's URL once
// it listens.
func cli(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(url string)) int {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr        = fs.String("addr", "127.0.0.1:8080", "TCP address to listen on; port 0 picks a free one")
		version     = fs.String("version", "8.8.3", "Camunda release whose backpressure answers to give: 8.6, 8.7, 8.8.0 to 8.8.2, 8.8.3 or later")
		exception   = fs.Bool("exception-title", false, "8.6: title backpressure with RequestRetriesExhaustedException instead of RESOURCE_EXHAUSTED")
		contextPath = fs.String("context-path", "", "serve the API under this path, such as /zeebe")
		slots       = fs.Int("slots", 0, "requests in service at once; 0 for no bound")
		rate        = fs.Float64("rate", 0, "requests accepted per second; 0 for no bound")
		burst       = fs.Int("burst", 0, "token bucket size for -rate; 0 for a tenth of a second's worth")
		service     = fs.Duration("service-time", 0, "time to serve each accepted request, holding its slot")
		jobType     = fs.String("job-type", "", "job type of processes not named by -process; empty: the process ID")
		retries     = fs.Int("retries", camundatest.DefaultJobRetries, "retries of each new job")
		longPoll    = fs.Duration("long-poll", camundatest.DefaultLongPollTimeout, "job activation wait when the request names no requestTimeout")
		retryAfter  = fs.Duration("retry-after", 0, "Retry-After on every refusal, in whole seconds; 0 sends none")
		unavailable = fs.Float64("unavailable", 0, "share of requests answered 503 UNAVAILABLE")
		aborted     = fs.Float64("aborted", 0, "share of requests answered 502 ABORTED")
		deadline    = fs.Float64("deadline-exceeded", 0, "share of requests answered 504 DEADLINE_EXCEEDED")
		faultRoutes = fs.String("fault-routes", "", "comma-separated route templates the fault shares apply to; empty: all")
		afterProc   = fs.Bool("after-processing", false, "carry out a faulted request before answering with the fault")
		latency     = fs.Duration("latency", 0, "extra delay on every answer")
		seed        = fs.Uint64("seed", 1, "seed of the random source that picks faulted requests")
		report      = fs.Duration("report", 0, "print the counters at this interval; 0 only at exit")
		processes   []camundatest.Option
	)
	fs.Func("process", "`id=type`: instances of process id produce jobs of this type (repeatable)", func(s string) error {
		id, typ, ok := strings.Cut(s, "=")
		if !ok || id == "" || typ == "" {
			return fmt.Errorf("want id=type, got %q", s)
		}
		processes = append(processes, camundatest.WithProcess(id, typ))
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gateway: unexpected arguments %q\n", fs.Args())
		return 2
	}
	v, err := camundatest.ParseVersion(*version)
	if err != nil {
		fmt.Fprintf(stderr, "gateway: -version: %v\n", err)
		return 2
	}
	var routes []string
	if *faultRoutes != "" {
		routes = strings.Split(*faultRoutes, ",")
	}
	opts := append([]camundatest.Option{
		camundatest.WithAddr(*addr),
		camundatest.WithVersion(v),
		camundatest.WithContextPath(*contextPath),
		camundatest.WithCapacity(camundatest.Capacity{Slots: *slots, Rate: *rate, Burst: *burst, ServiceTime: *service}),
		camundatest.WithDefaultJobType(*jobType),
		camundatest.WithJobRetries(*retries),
		camundatest.WithLongPollTimeout(*longPoll),
		camundatest.WithRetryAfter(*retryAfter),
		camundatest.WithFaults(camundatest.Faults{
			Unavailable: *unavailable, Aborted: *aborted, DeadlineExceeded: *deadline,
			AfterProcessing: *afterProc, Routes: routes, Latency: *latency,
		}),
		camundatest.WithSeed(*seed),
	}, processes...)
	if *exception {
		opts = append(opts, camundatest.WithExceptionTitle())
	}
	gw, err := camundatest.New(opts...)
	if err != nil {
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 2
	}
	defer gw.Close()
	if err := gw.Start(); err != nil {
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 1
	}

	fmt.Fprintf(stdout, "emulated Camunda %s gateway at %s\n", v, gw.URL())
	fmt.Fprintf(stdout, "capacity: %s\n", describe(camundatest.Capacity{Slots: *slots, Rate: *rate, Burst: *burst, ServiceTime: *service}))
	fmt.Fprintln(stdout, "Ctrl-C to stop")
	if ready != nil {
		ready(gw.URL())
	}

	start := time.Now()
	var tick <-chan time.Time
	if *report > 0 {
		t := time.NewTicker(*report)
		defer t.Stop()
		tick = t.C
	}
	var last camundatest.RouteStats
serving:
	for {
		select {
		case <-tick:
			tot := gw.Stats().Total()
			fmt.Fprintf(stdout, "%s  requests +%d, accepted +%d, refused +%d\n", time.Since(start).Round(time.Second),
				tot.Requests-last.Requests, tot.Accepted-last.Accepted, tot.Rejected()-last.Rejected())
			last = tot
		case <-ctx.Done():
			break serving
		}
	}
	gw.Close()
	fmt.Fprintf(stdout, "stopped after %s\n%s\n", time.Since(start).Round(time.Millisecond), gw.Stats())
	return 0
}

// describe says what a capacity amounts to.
func describe(c camundatest.Capacity) string {
	var parts []string
	if c.Slots > 0 {
		parts = append(parts, fmt.Sprintf("%d at once", c.Slots))
	}
	if c.Rate > 0 {
		parts = append(parts, fmt.Sprintf("at most %g requests/s", c.Rate))
	}
	if c.ServiceTime > 0 {
		s := fmt.Sprintf("%s service time", c.ServiceTime)
		if c.Slots > 0 {
			s += fmt.Sprintf(" (about %.0f requests/s)", float64(c.Slots)/c.ServiceTime.Seconds())
		}
		parts = append(parts, s)
	}
	if c.Slots == 0 && c.Rate == 0 {
		parts = append([]string{"unbounded"}, parts...)
	}
	return strings.Join(parts, ", ")
}
