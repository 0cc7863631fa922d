package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ebb-go/ebb/camundatest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func shortConfig() config {
	return config{
		duration: 2 * time.Second, jobType: "payment", process: "payment-process", concurrency: 16, pollers: 2,
		errorShare: 0.1, failShare: 0.05, work: time.Millisecond, maxFailed: 0.01,
		version: "8.8.3", slots: 4, serviceTime: 5 * time.Millisecond, loaders: 8,
		logLevel: 8, // quiet
	}
}

// TestDemoSummaryAddsUp runs the demo's code briefly against the in-process
// gateway and checks that its numbers agree with each other, with ebb's
// metrics and with the gateway's.
func TestDemoSummaryAddsUp(t *testing.T) {
	sum, err := run(t.Context(), shortConfig(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w, g := sum.worker, sum.gateway.Stats()
	if w.handled()+w.lost.Load() != w.activated.Load() {
		t.Errorf("handled %d + lost %d != activated %d: every activated job must be answered", w.handled(), w.lost.Load(), w.activated.Load())
	}
	if w.activated.Load() == 0 || w.completed.Load() == 0 {
		t.Fatalf("no work done: %+v", g)
	}
	if g.JobsCompleted != w.completed.Load() || g.JobsErrored != w.errored.Load() || g.JobsFailed != w.failed.Load() {
		t.Errorf("gateway completed/errored/failed %d/%d/%d, worker %d/%d/%d", g.JobsCompleted, g.JobsErrored, g.JobsFailed,
			w.completed.Load(), w.errored.Load(), w.failed.Load())
	}
	if g.JobsActivated < w.activated.Load() {
		t.Errorf("gateway activated %d < worker's %d", g.JobsActivated, w.activated.Load())
	}
	m, err := readMetrics(sum.registry, "ebb")
	if err != nil {
		t.Fatal(err)
	}
	// Every request the demo sent is one logical request of ebb's (the
	// breaker refuses none in a healthy run), and each the demo saw
	// succeed ebb counted as a success; a request cut short at shutdown
	// may have had its answer already.
	ok, failed, cut := sum.requests()
	outcomes := m.by("requests_total", "outcome")
	if got := m.sum("requests_total"); got != float64(ok+failed+cut) {
		t.Errorf("ebb counted %v requests (%v), the demo sent %d", got, outcomes, ok+failed+cut)
	}
	if got := outcomes["success"]; got < float64(ok) || got > float64(ok+cut) {
		t.Errorf("ebb's outcomes %v; the demo: %d succeeded, %d cut short", outcomes, ok, cut)
	}
	if failed != 0 {
		t.Errorf("%d requests failed: %v", failed, first(sum))
	}
	var gatewayRequests, gatewayBackpressure int64
	for _, r := range g.Routes {
		gatewayRequests += r.Requests
		gatewayBackpressure += r.Backpressure
	}
	// Every attempt that reached the gateway was counted by ebb, and the
	// gateway's backpressure answers are ebb's backpressure. The attempts
	// cut short at shutdown may or may not have reached the gateway, and
	// their answers were not read: they bound the difference.
	attempts, backpressure := m.sum("attempts_total"), m.sum("backpressure_total")
	slack := m.by("attempts_total", "verdict")["canceled"]
	if got := float64(gatewayRequests); got < attempts-slack || got > attempts {
		t.Errorf("ebb counted %v attempts (%v canceled), the gateway %d requests", attempts, slack, gatewayRequests)
	}
	if got := float64(gatewayBackpressure); got < backpressure || got > backpressure+slack {
		t.Errorf("ebb counted %v backpressure answers (%v attempts canceled), the gateway sent %d", backpressure, slack, gatewayBackpressure)
	}
	if backpressure == 0 {
		t.Error("the emulated gateway never pushed back: the demo shows nothing")
	}
	waits, _ := m.histogram("limiter_wait_seconds")
	if waits == 0 || sum.final.Hosts[0].Limiter.Limit == 0 {
		t.Errorf("the limiter never engaged: %d waits, snapshot %+v", waits, sum.final.Hosts)
	}
	if bad, why := sum.failed(); bad {
		t.Errorf("the run failed: %s", why)
	}
	var out bytes.Buffer
	sum.print(&out)
	for _, want := range []string{
		"jobs       activated", "completed", "cut short at shutdown", "backpressure",
		"limiter       balanced profile, limit ", " at the end", "attempts waited for a permit", "on average",
		"breaker       stayed closed", "gateway (its own counters)", "result     succeeded",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}

// TestEveryRelease runs the demo against the emulation of each Camunda
// release: 8.6 and 8.7 write keys as JSON numbers, later releases as
// strings, and each pushes back in its own way.
func TestEveryRelease(t *testing.T) {
	for _, v := range []string{"8.6", "8.7", "8.8.0", "8.8.3", "8.9", "8.10"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			c := shortConfig()
			c.version, c.duration = v, time.Second
			sum, err := run(t.Context(), c, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			w := sum.worker
			if w.completed.Load() == 0 || sum.loader.creates.ok.Load() == 0 {
				t.Errorf("completed %d jobs, created %d instances", w.completed.Load(), sum.loader.creates.ok.Load())
			}
			if bad, why := sum.failed(); bad || w.lost.Load() != 0 {
				t.Errorf("failed: %s; %d jobs not answered; first failure: %v", why, w.lost.Load(), first(sum))
			}
			if g := sum.gateway.Stats(); g.JobsCompleted != w.completed.Load() {
				t.Errorf("gateway completed %d, the worker %d", g.JobsCompleted, w.completed.Load())
			}
			if want := strings.TrimSuffix(v, ".0"); !strings.HasPrefix(sum.gatewayVersion, want) {
				t.Errorf("topology says gateway %q, want %s", sum.gatewayVersion, v)
			}
		})
	}
}

func TestKey(t *testing.T) {
	for _, tt := range []struct {
		give string
		want key
		err  bool
	}{
		{give: `2251799813685249`, want: "2251799813685249"},
		{give: `"2251799813685249"`, want: "2251799813685249"},
		{give: `9223372036854775807`, want: "9223372036854775807"}, // above 2^53: a float64 would round it
		{give: `"9223372036854775807"`, want: "9223372036854775807"},
		{give: `9223372036854775808`, err: true},
		{give: `2.5`, err: true},
		{give: `2251799813685249e0`, err: true},
		{give: `"abc"`, err: true},
		{give: `""`, err: true},
		{give: `0`, err: true},
		{give: `-1`, err: true},
		{give: `null`, err: true},
		{give: `true`, err: true},
	} {
		var got struct {
			K key `json:"k"`
		}
		err := json.Unmarshal([]byte(`{"k":`+tt.give+`}`), &got)
		if (err != nil) != tt.err || got.K != tt.want {
			t.Errorf("%s: got %q, %v; want %q, error %v", tt.give, got.K, err, tt.want, tt.err)
		}
	}
}

func TestRESTAddress(t *testing.T) {
	for _, tt := range []struct {
		give, want string
		err        string
	}{
		{give: "", want: ""},
		{give: "http://localhost:8080", want: "http://localhost:8080"},
		{give: " http://localhost:8080/ ", want: "http://localhost:8080"},
		{give: "http://localhost:8080/v2", want: "http://localhost:8080"},
		{give: "http://localhost:8080/v2/", want: "http://localhost:8080"},
		{give: "https://example.com/zeebe/v2", want: "https://example.com/zeebe"},
		{give: "https://example.com/zeebe", want: "https://example.com/zeebe"},
		{give: "localhost:8080", err: "no scheme; write http://localhost:8080"},
		{give: "127.0.0.1:8080/v2", err: "no scheme"},
		{give: "ftp://localhost", err: `scheme "ftp"`},
		{give: "http://", err: "no host"},
		{give: "http://localhost:8080?x=1", err: "query"},
	} {
		got, err := restAddress(tt.give)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%q: got %q, %v; want %q, error containing %q", tt.give, got, err, tt.want, tt.err)
		}
	}
}

func TestCLIErrors(t *testing.T) {
	t.Setenv("CAMUNDA_REST_ADDRESS", "")
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string // on stderr
	}{
		{name: "duration", args: []string{"-duration", "0s"}, want: "-duration 0s"},
		{name: "flag", args: []string{"-no-such-flag"}, want: "flag provided but not defined"},
		{name: "argument", args: []string{"now"}, want: "unexpected arguments"},
		{name: "log level", args: []string{"-log-level", "loud"}, want: "-log-level"},
		{name: "max failed", args: []string{"-max-failed", "2"}, want: "-max-failed 2"},
		{name: "load", args: []string{"-load", "-1"}, want: `invalid value "-1" for flag -load`},
		{name: "slots", args: []string{"-gateway-slots", "-1"}, want: "-gateway-slots"},
		{name: "version", args: []string{"-gateway-version", "9.0"}, want: "8.6, 8.7, 8.8.0-8.8.2, 8.8.3+, 8.9 and 8.10"},
		{name: "gateway address", args: []string{"-gateway-addr", "nonsense"}, want: `-gateway-addr "nonsense": want host:port`},
		{name: "process", args: []string{"-process", ""}, want: "emulated gateway"},
		{name: "environment", env: map[string]string{"EBB_RETRY_MAX_ATTEMPTS": "many"}, want: `EBB_RETRY_MAX_ATTEMPTS="many"`},
		{name: "misspelt variable", env: map[string]string{"EBB_RETRY_MAXATTEMPTS": "2"}, want: "EBB_RETRY_MAX_ATTEMPTS"},
		{name: "no scheme", env: map[string]string{"CAMUNDA_REST_ADDRESS": "localhost:8080"}, want: "no scheme; write http://localhost:8080"},
		{name: "gateway flag with an address", args: []string{"-gateway-slots", "8"},
			env: map[string]string{"CAMUNDA_REST_ADDRESS": "http://127.0.0.1:1"}, want: "-gateway-slots applies to the emulated gateway"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := cli(append([]string{"-metrics-addr", ""}, tt.args...), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
}

// TestHelp: -h exits 0 and its text names the variables the demo and
// transport.FromEnv read, every one FromEnv knows.
func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := cli([]string{"-h"}, &stdout, &stderr); code != 0 {
		t.Fatalf("-h: exit %d, %s", code, stderr.String())
	}
	// The variables transport.FromEnv reads, as its source names them.
	files, err := filepath.Glob("../../transport/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var src []byte
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, data...)
	}
	names := regexp.MustCompile(`"((?:EBB|CAMUNDA_SDK)_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(names) < 20 {
		t.Fatalf("found only %d variables in package transport", len(names))
	}
	for _, want := range append([]string{"CAMUNDA_REST_ADDRESS", "-gateway-version", "-quiet", "-load", "Exit status", "unbounded"}, func() []string {
		var s []string
		for _, n := range names {
			s = append(s, n[1])
		}
		return s
	}()...) {
		if !regexp.MustCompile(regexp.QuoteMeta(want) + `\b`).MatchString(stdout.String()) {
			t.Errorf("the help does not name %s", want)
		}
	}
}

// TestNothingListening: with nothing at the address the demo fails at once,
// exit 1, and says why.
func TestNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("EBB_RETRY_INITIAL_INTERVAL", "1ms")
	for _, give := range []string{"http://" + addr, "http://" + addr + "/v2"} {
		t.Setenv("CAMUNDA_REST_ADDRESS", give)
		var stdout, stderr bytes.Buffer
		code := cli([]string{"-duration", "10s", "-metrics-addr", ""}, &stdout, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), "the cluster at http://"+addr+" did not answer its topology: ") ||
			!strings.Contains(stderr.String(), "connection refused") {
			t.Errorf("%s: exit %d, stderr %q; want 1 and the refused connection", give, code, stderr.String())
		}
	}
}

// TestFailingRun: a cluster that answers the topology but fails every
// activation makes a failed run: exit 1, the first failure's cause on
// stderr, the breaker's transitions and refusals in the summary.
func TestFailingRun(t *testing.T) {
	gw := camundatest.NewGateway()
	defer gw.Close()
	if err := gw.Force("/v2/jobs/activation", 500, -1); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CAMUNDA_REST_ADDRESS", gw.URL())
	t.Setenv("EBB_BREAKER_OPEN_TIMEOUT", "200ms")
	var stdout, stderr bytes.Buffer
	code := cli([]string{"-duration", "1500ms", "-metrics-addr", ""}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d; want 1\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		"worker: the run failed: none of the worker's requests succeeded",
		"worker: the first failure, ",
		"POST /v2/jobs/activation: answered 500 Internal Server Error",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	for _, want := range []string{
		"failed: ", "answered 500 java.lang.IllegalStateException",
		"closed → open", "refused by the open breaker (nothing sent",
		"result     FAILED",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestShortRunsEndClean: the demo's own stop is no failure: requests in
// flight or in backoff when the time is up are cut short, not handed back
// as refusals, however short the run and however hard the load.
func TestShortRunsEndClean(t *testing.T) {
	c := shortConfig()
	c.slots, c.serviceTime, c.loaders = 1, 5*time.Millisecond, 32 // many requests in backoff at any moment
	for _, d := range []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond} {
		c.duration = d
		sum, err := run(t.Context(), c, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		m, err := readMetrics(sum.registry, "ebb")
		if err != nil {
			t.Fatal(err)
		}
		ok, failed, cut := sum.requests()
		if failed != 0 || m.sum("requests_total") != float64(ok+failed+cut) {
			t.Errorf("%v run: %d failed (%v), %d cut short; ebb's outcomes %v", d, failed, first(sum), cut, m.by("requests_total", "outcome"))
		}
		if bad, why := sum.failed(); bad {
			t.Errorf("%v run failed: %s", d, why)
		}
	}
}

// TestExternalCluster runs the worker against a cluster it did not start,
// as with CAMUNDA_REST_ADDRESS set: it creates no load unless -load is
// given, and works off the jobs it finds. The address ends in /v2 and the
// API sits under a context path, as deployments write them.
func TestExternalCluster(t *testing.T) {
	gw := camundatest.NewGateway(camundatest.WithProcess("payment-process", "payment"), camundatest.WithContextPath("/zeebe"))
	defer gw.Close()
	const jobs = 25
	for range jobs {
		resp, err := gw.Client().Post(gw.URL()+"/v2/process-instances", "application/json", strings.NewReader(`{"processDefinitionId":"payment-process"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	t.Setenv("CAMUNDA_REST_ADDRESS", gw.URL()+"/v2/")
	var stdout, stderr bytes.Buffer
	code := cli([]string{"-duration", "1s", "-metrics-addr", "", "-fail-share", "0"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	st := gw.Stats()
	if st.JobsCompleted+st.JobsErrored != jobs || st.InstancesCreated != jobs {
		t.Fatalf("gateway: %d instances, %d completed + %d errored, want %d jobs done and no load of the worker's own\n%s",
			st.InstancesCreated, st.JobsCompleted, st.JobsErrored, jobs, stdout.String())
	}
	if !strings.Contains(stdout.String(), "against the Camunda 8.8.3 cluster at "+gw.URL()+"\n") || strings.Contains(stdout.String(), "emulated") {
		t.Errorf("summary does not name the external cluster:\n%s", stdout.String())
	}
	if strings.Contains(stdout.String(), "backpressure   0/s") || strings.Contains(stdout.String(), "creations") {
		t.Errorf("progress lines or creations on a buffer:\n%s", stdout.String())
	}

	// -load creates instances there too.
	stdout.Reset()
	code = cli([]string{"-duration", "500ms", "-metrics-addr", "", "-load", "2"}, &stdout, &stderr)
	if code != 0 || gw.Stats().InstancesCreated == jobs || !strings.Contains(stdout.String(), "process instances created") {
		t.Fatalf("-load 2: exit %d, %d instances\n%s%s", code, gw.Stats().InstancesCreated, stdout.String(), stderr.String())
	}
}

// TestInterruptedRunFinishesJobs: ending the run early (Ctrl-C) stops
// polling but finishes every job in hand.
func TestInterruptedRunFinishesJobs(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := shortConfig()
	c.duration = time.Minute
	c.work = 50 * time.Millisecond // jobs are in hand when the run ends
	c.ready = func(s *summary) {
		go func() {
			for s.worker.activated.Load() < 20 && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
	}
	sum, err := run(ctx, c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.interrupted {
		t.Fatal("not interrupted")
	}
	w := sum.worker
	if w.activated.Load() == 0 || w.handled() != w.activated.Load() || w.lost.Load() != 0 {
		t.Fatalf("activated %d, handled %d, lost %d", w.activated.Load(), w.handled(), w.lost.Load())
	}
}

// TestGatewayCannotStart: the run fails, with exit code 1, when the emulated
// gateway cannot listen.
func TestGatewayCannotStart(t *testing.T) {
	t.Setenv("CAMUNDA_REST_ADDRESS", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	code := cli([]string{"-duration", "1s", "-metrics-addr", "", "-gateway-addr", ln.Addr().String()}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "emulated gateway") {
		t.Fatalf("exit %d, stderr %q; want 1 and the gateway's error", code, stderr.String())
	}
}

// TestFailureThreshold: a run in which some requests fail fails when they
// are more than -max-failed of the requests that ended.
func TestFailureThreshold(t *testing.T) {
	for _, tt := range []struct {
		maxFailed string
		want      int
	}{
		{"0.01", 1},
		{"0.5", 0},
	} {
		t.Run(tt.maxFailed, func(t *testing.T) {
			gw := camundatest.NewGateway(camundatest.WithProcess("payment-process", "payment"))
			defer gw.Close()
			for range 20 {
				resp, err := gw.Client().Post(gw.URL()+"/v2/process-instances", "application/json", strings.NewReader(`{"processDefinitionId":"payment-process"}`))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			if err := gw.Force("/v2/jobs/{jobKey}/completion", 404, 4); err != nil {
				t.Fatal(err)
			}
			t.Setenv("CAMUNDA_REST_ADDRESS", gw.URL())
			var stdout, stderr bytes.Buffer
			code := cli([]string{"-duration", "500ms", "-metrics-addr", "", "-fail-share", "0", "-error-share", "0", "-max-failed", tt.maxFailed}, &stdout, &stderr)
			if code != tt.want || !strings.Contains(stdout.String(), "failed: 4 answered 404 NOT_FOUND") {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.want, stdout.String(), stderr.String())
			}
			if tt.want == 1 && !strings.Contains(stderr.String(), "more than -max-failed 1%") {
				t.Errorf("stderr: %s", stderr.String())
			}
		})
	}
}

// TestUnboundedGateway: -gateway-slots 0 reads as what it is.
func TestUnboundedGateway(t *testing.T) {
	c := shortConfig()
	c.slots, c.duration, c.version = 0, 300*time.Millisecond, "8.6"
	sum, err := run(t.Context(), c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum.print(&out)
	if !strings.Contains(out.String(), "\n                 unbounded capacity: it never pushes back; keys as JSON numbers\n") {
		t.Errorf("summary:\n%s", out.String())
	}
}

// first is the run's first failure.
func first(s *summary) error {
	_, err := s.fails.firstFailure()
	return err
}
