package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
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

// The default capacity: about 100 requests a second, so that a client
// pushing harder — even a shell loop of curl — meets backpressure.
const (
	defaultSlots       = 2
	defaultServiceTime = 20 * time.Millisecond
)

// forcing is one -force flag: answer route with status, n times (negative:
// always).
type forcing struct {
	route     string
	status, n int
}

// cli parses the flags, serves until ctx ends, prints the counters and
// returns the exit code. ready, if not nil, is told the gateway's URL once
// it listens.
func cli(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(url string)) int {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr        = fs.String("addr", "127.0.0.1:8080", "TCP address to listen on; port 0 picks a free one")
		version     = fs.String("version", "8.8.3", "Camunda release to imitate: 8.6, 8.7, 8.8.0 to 8.8.2, 8.8.3 (or any later 8.8), 8.9, or 8.10 (Camunda's main)")
		exception   = fs.Bool("exception-title", false, "8.6 and 8.7 only: title backpressure with RequestRetriesExhaustedException instead of RESOURCE_EXHAUSTED")
		contextPath = fs.String("context-path", "", "serve the API under this path, such as /zeebe")
		slots       = fs.Int("slots", defaultSlots, "requests in service at once; 0 for no bound. With the default service time, about 100 requests/s: more is refused as backpressure")
		rate        = fs.Float64("rate", 0, "requests accepted per second; 0 for no bound")
		burst       = fs.Int("burst", 0, "token bucket size for -rate; 0 for a tenth of a second's worth")
		service     = fs.Duration("service-time", defaultServiceTime, "time to serve each accepted request, holding its slot")
		jobType     = fs.String("job-type", "", "job type of processes not named by -process; empty: the process ID")
		retries     = fs.Int("retries", camundatest.DefaultJobRetries, "retries of each new job")
		longPoll    = fs.Duration("long-poll", camundatest.DefaultLongPollTimeout, "job activation wait when the request names no requestTimeout")
		retryAfter  = fs.Duration("retry-after", 0, "Retry-After on every refusal, in whole seconds; 0 sends none")
		unavailable = fs.Float64("unavailable", 0, "share of requests answered 503 UNAVAILABLE")
		aborted     = fs.Float64("aborted", 0, "share of requests answered 502 ABORTED")
		deadline    = fs.Float64("deadline-exceeded", 0, "share of requests answered 504 DEADLINE_EXCEEDED")
		faultRoutes = fs.String("fault-routes", "", "comma-separated route templates the fault shares apply to, such as /v2/jobs/activation; empty: all")
		afterProc   = fs.Bool("after-processing", false, "carry out a faulted request before answering with the fault")
		latency     = fs.Duration("latency", 0, "extra delay on every answer")
		seed        = fs.Uint64("seed", 1, "seed of the random source that picks faulted requests")
		report      = fs.Duration("report", 0, "print the counters' changes at this interval, when there are any; 0 only at exit")
		processes   []camundatest.Option
		processIDs  = map[string]bool{}
		forced      []forcing
		outage      *outageFlag
	)
	fs.Func("outage", "`kind@after+length`: an outage of kind refuse (connections refused) or reset (connections reset mid-request), starting after the first duration and lasting the second, such as refuse@5s+10s; its start and end are printed", func(s string) error {
		o, err := parseOutage(s)
		if err != nil {
			return err
		}
		outage = &o
		return nil
	})
	fs.Func("process", "`id=type`: instances of process id produce jobs of this type (repeatable, once per id)", func(s string) error {
		id, typ, ok := strings.Cut(s, "=")
		if !ok || id == "" || typ == "" {
			return fmt.Errorf("want id=type, got %q", s)
		}
		if processIDs[id] {
			return fmt.Errorf("process %q given twice", id)
		}
		processIDs[id] = true
		processes = append(processes, camundatest.WithProcess(id, typ))
		return nil
	})
	fs.Func("force", "`route=status[:n]`: answer the next n requests on route (all if n is absent) with status, in Camunda's body for it, such as /v2/jobs/{jobKey}/error=500:1 (repeatable)", func(s string) error {
		f, err := parseForce(s)
		if err != nil {
			return err
		}
		forced = append(forced, f)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "gateway: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	v, err := camundatest.ParseVersion(*version)
	if err != nil {
		return bad("-version: %v", err)
	}
	// Flags that would be accepted and then ignored are mistakes.
	shares := *unavailable > 0 || *aborted > 0 || *deadline > 0
	switch {
	case *exception && v != camundatest.V86 && v != camundatest.V87:
		return bad("-exception-title: only 8.6 and 8.7 title backpressure with an exception; -version %s answers RESOURCE_EXHAUSTED", v)
	case set["burst"] && *rate == 0:
		return bad("-burst: a token bucket needs -rate")
	case *report < 0:
		return bad("-report %v: want a positive interval, or 0 to print only at exit", *report)
	case (set["fault-routes"] || set["after-processing"] || set["seed"]) && !shares:
		return bad("-fault-routes, -after-processing and -seed apply to fault shares: give -unavailable, -aborted or -deadline-exceeded")
	}
	var routes []string
	if *faultRoutes != "" {
		for r := range strings.SplitSeq(*faultRoutes, ",") {
			r = strings.TrimSpace(r)
			if !slices.Contains(camundatest.Routes(), r) {
				return bad("-fault-routes: %q is not a route of the gateway; its routes are %s", r, strings.Join(camundatest.Routes(), ", "))
			}
			routes = append(routes, r)
		}
	}
	capacity := camundatest.Capacity{Slots: *slots, Rate: *rate, Burst: *burst, ServiceTime: *service}
	opts := append([]camundatest.Option{
		camundatest.WithAddr(*addr),
		camundatest.WithVersion(v),
		camundatest.WithContextPath(*contextPath),
		camundatest.WithCapacity(capacity),
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
		return bad("%v", err)
	}
	defer gw.Close()
	for _, f := range forced {
		if err := gw.Force(f.route, f.status, f.n); err != nil {
			return bad("-force: %v", err)
		}
	}
	if err := gw.Start(); err != nil {
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 1
	}

	fmt.Fprintf(stdout, "emulated Camunda %s gateway at %s\n", v, gw.URL())
	fmt.Fprintf(stdout, "answers: %s\n", answers(v, *exception))
	fmt.Fprintf(stdout, "capacity: %s\n", describe(capacity))
	for _, f := range forced {
		n := "every request"
		if f.n > 0 {
			n = fmt.Sprintf("the next %d requests", f.n)
		}
		fmt.Fprintf(stdout, "forced: %s answers %d to %s\n", f.route, f.status, n)
	}
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
	var outageStart, outageEnd <-chan time.Time
	if outage != nil {
		outageStart = time.After(outage.after)
	}
	var rep reporter
serving:
	for {
		select {
		case <-tick:
			if line := rep.next(gw.Stats().Total()); line != "" {
				fmt.Fprintf(stdout, "%s  %s\n", time.Since(start).Round(time.Second), line)
			}
		case <-outageStart:
			if err := gw.StartOutage(outage.kind); err != nil {
				fmt.Fprintf(stderr, "gateway: -outage: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "%s  outage %s started\n", time.Since(start).Round(time.Millisecond), outage.kind)
			outageEnd = time.After(outage.length)
		case <-outageEnd:
			if err := gw.StopOutage(); err != nil {
				fmt.Fprintf(stderr, "gateway: -outage: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "%s  outage %s ended\n", time.Since(start).Round(time.Millisecond), outage.kind)
		case <-ctx.Done():
			break serving
		}
	}
	gw.Close()
	fmt.Fprintf(stdout, "stopped after %s\n%s\n", time.Since(start).Round(time.Millisecond), gw.Stats())
	return 0
}

// parseForce reads route=status[:n].
func parseForce(s string) (forcing, error) {
	route, spec, ok := strings.Cut(s, "=")
	if !ok || route == "" || spec == "" {
		return forcing{}, fmt.Errorf("want route=status[:n], got %q", s)
	}
	status, count, hasCount := strings.Cut(spec, ":")
	f := forcing{route: route, n: -1}
	var err error
	if f.status, err = strconv.Atoi(status); err != nil {
		return forcing{}, fmt.Errorf("%q: status %q is not a number", s, status)
	}
	if hasCount {
		if f.n, err = strconv.Atoi(count); err != nil || f.n < 1 {
			return forcing{}, fmt.Errorf("%q: count %q is not a positive number", s, count)
		}
	}
	if !slices.Contains(camundatest.Routes(), route) {
		return forcing{}, fmt.Errorf("%q: %q is not a route of the gateway; its routes are %s", s, route, strings.Join(camundatest.Routes(), ", "))
	}
	if !slices.Contains(camundatest.ForcibleStatuses(route), f.status) {
		return forcing{}, fmt.Errorf("%q: %s does not answer %d; it documents %v", s, route, f.status, camundatest.ForcibleStatuses(route))
	}
	return f, nil
}

// outageFlag is the -outage flag: an outage of kind, from after the
// gateway listens, for length.
type outageFlag struct {
	kind          camundatest.Outage
	after, length time.Duration
}

// parseOutage reads kind@after+length.
func parseOutage(s string) (outageFlag, error) {
	kind, times, ok := strings.Cut(s, "@")
	after, length, ok2 := strings.Cut(times, "+")
	if !ok || !ok2 {
		return outageFlag{}, fmt.Errorf("want kind@after+length, such as refuse@5s+10s, got %q", s)
	}
	var o outageFlag
	switch kind {
	case "refuse":
		o.kind = camundatest.Refuse
	case "reset":
		o.kind = camundatest.Reset
	default:
		return outageFlag{}, fmt.Errorf("%q: kind %q is not refuse or reset", s, kind)
	}
	var err error
	if o.after, err = time.ParseDuration(after); err != nil || o.after < 0 {
		return outageFlag{}, fmt.Errorf("%q: %q is not a duration of 0 or more", s, after)
	}
	if o.length, err = time.ParseDuration(length); err != nil || o.length <= 0 {
		return outageFlag{}, fmt.Errorf("%q: %q is not a positive duration", s, length)
	}
	return o, nil
}

// reporter turns successive counter totals into report lines: the changes
// since the last line, or nothing when nothing changed.
type reporter struct{ last camundatest.RouteStats }

func (r *reporter) next(tot camundatest.RouteStats) string {
	if tot == r.last {
		return ""
	}
	line := fmt.Sprintf("requests +%d, accepted +%d, refused +%d",
		tot.Requests-r.last.Requests, tot.Accepted-r.last.Accepted, tot.Rejected()-r.last.Rejected())
	r.last = tot
	return line
}

// answers says which answers the version gives.
func answers(v camundatest.Version, exceptionTitle bool) string {
	switch v {
	case camundatest.V86, camundatest.V87:
		title := "RESOURCE_EXHAUSTED"
		if exceptionTitle {
			title = "io.camunda.zeebe.broker.client.api.RequestRetriesExhaustedException"
		}
		return fmt.Sprintf("the %s API: keys as JSON numbers, as strings when Accept asks for application/vnd.camunda.api.keys.string+json; "+
			"unknown request fields ignored; backpressure 429 %s", v, title)
	case camundatest.V880:
		return "the 8.8 API: keys as strings, unknown request fields refused; backpressure 503 RESOURCE_EXHAUSTED, " +
			"on job activation 500 java.lang.RuntimeException with RESOURCE_EXHAUSTED in its detail"
	case camundatest.V883:
		return "the 8.8 API: keys as strings, unknown request fields refused; backpressure 503 RESOURCE_EXHAUSTED"
	case camundatest.V89:
		return "the 8.9 API: the 8.8 one plus clusterId, businessId, tags, userTask and rootProcessInstanceKey; backpressure 503 RESOURCE_EXHAUSTED"
	}
	return "the API of Camunda's main (8.10): the 8.9 one plus brokerId, partition state, businessId, leaseToken, physicalTenantId " +
		"and priority on jobs; backpressure 503 RESOURCE_EXHAUSTED"
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
		parts = append([]string{"unbounded, never pushes back"}, parts...)
	} else {
		parts = append(parts, "beyond it requests are refused as backpressure")
	}
	return strings.Join(parts, ", ")
}
