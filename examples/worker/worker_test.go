package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebb-go/ebb/camundatest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func shortConfig() config {
	return config{
		duration: 2 * time.Second, jobType: "payment", concurrency: 16, pollers: 2,
		errorShare: 0.1, failShare: 0.05, work: time.Millisecond,
		version: "8.8.3", slots: 4, serviceTime: 5 * time.Millisecond, loaders: 8,
		logLevel: 8, // quiet
	}
}

// TestDemoSummaryAddsUp runs the demo's code briefly against the in-process
// gateway and checks that its numbers agree with each other and with the
// gateway's.
func TestDemoSummaryAddsUp(t *testing.T) {
	t.Setenv("CAMUNDA_REST_ADDRESS", "")
	sum, err := run(t.Context(), shortConfig(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w, g := sum.worker, sum.gateway.Stats()
	handled := w.completed.Load() + w.errored.Load() + w.failed.Load() + w.lost.Load()
	if handled != w.activated.Load() {
		t.Errorf("handled %d != activated %d: every activated job must be finished", handled, w.activated.Load())
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
	tc, err := sum.transport()
	if err != nil {
		t.Fatal(err)
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
	slack := tc.canceledAttempts
	if got := float64(gatewayRequests); got < tc.attempts-slack || got > tc.attempts {
		t.Errorf("ebb counted %v attempts (%v canceled), the gateway %d requests", tc.attempts, slack, gatewayRequests)
	}
	if got := float64(gatewayBackpressure); got < tc.backpressure || got > tc.backpressure+slack {
		t.Errorf("ebb counted %v backpressure answers (%v attempts canceled), the gateway sent %d", tc.backpressure, slack, gatewayBackpressure)
	}
	if tc.backpressure == 0 {
		t.Error("the emulated gateway never pushed back: the demo shows nothing")
	}
	var out bytes.Buffer
	sum.print(&out)
	for _, want := range []string{"jobs", "completed", "backpressure", "retries", "final failures", "gateway (its own counters)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}

func TestCLIErrors(t *testing.T) {
	var stderr bytes.Buffer
	if code := cli([]string{"-duration", "0s", "-metrics-addr", ""}, io.Discard, &stderr); code != 2 {
		t.Errorf("bad duration: exit %d, %s", code, stderr.String())
	}
	t.Setenv("EBB_RETRY_MAX_ATTEMPTS", "many")
	stderr.Reset()
	if code := cli([]string{"-duration", "1s", "-metrics-addr", ""}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), `EBB_RETRY_MAX_ATTEMPTS="many"`) {
		t.Errorf("bad environment: exit %d, %s", code, stderr.String())
	}
	t.Setenv("EBB_RETRY_MAX_ATTEMPTS", "")
	stderr.Reset()
	if code := cli([]string{"-no-such-flag"}, io.Discard, &stderr); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
}

// TestPrometheusScrapesDemo has a real Prometheus server (Debian's
// prometheus package; .ci/run installs it) scrape the demo while it runs
// against the emulated gateway, then asks Prometheus's HTTP API whether it
// saw backpressure and requests.
func TestPrometheusScrapesDemo(t *testing.T) {
	bin := os.Getenv("EBB_PROMETHEUS")
	if bin == "" {
		bin = "prometheus"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no prometheus binary under CI: %v (.ci/run installs Debian's package)", err)
		}
		t.Skipf("no prometheus binary (%v); .ci/run installs it, or set EBB_PROMETHEUS", err)
	}
	t.Setenv("CAMUNDA_REST_ADDRESS", "")

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	c := shortConfig()
	c.duration = 20 * time.Second
	c.metricsAddr = "127.0.0.1:0"
	ready := make(chan string, 1)
	c.metricsReady = func(addr string) { ready <- addr }
	demoCtx, stopDemo := context.WithCancel(ctx)
	defer stopDemo()
	done := make(chan error, 1)
	go func() {
		_, err := run(demoCtx, c, io.Discard)
		done <- err
	}()
	var target string
	select {
	case target = <-ready:
	case err := <-done:
		t.Fatalf("the demo ended before serving metrics: %v", err)
	}

	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 500ms\nscrape_configs:\n  - job_name: ebb-demo\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, path,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()

	// Ask until both series are above zero, or give up after the deadline.
	want := []string{"sum(ebb_backpressure_total)", "sum(ebb_requests_total)"}
	seen := map[string]float64{}
	for len(seen) < len(want) {
		for _, q := range want {
			if v, ok := query(promAddr, q); ok && v > 0 {
				seen[q] = v
			}
		}
		if len(seen) == len(want) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus never saw %v above zero (saw %v); its log:\n%s", want, seen, logs.String())
		case <-time.After(250 * time.Millisecond):
		}
	}
	t.Logf("Prometheus at %s scraped %s: %v", promAddr, target, seen)
	stopDemo()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// query runs an instant query against Prometheus's HTTP API and returns the
// value of its single sample.
func query(addr, q string) (float64, bool) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil || r.Status != "success" || len(r.Data.Result) != 1 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return 0, false
	}
	return v, true
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestExternalCluster runs the worker against a cluster it did not start,
// as with CAMUNDA_REST_ADDRESS set: it creates no load and works off the
// jobs it finds.
func TestExternalCluster(t *testing.T) {
	gw := camundatest.NewGateway(camundatest.WithProcess("payment-process", "payment"))
	defer gw.Close()
	const jobs = 25
	for range jobs {
		resp, err := gw.Client().Post(gw.URL()+"/v2/process-instances", "application/json", strings.NewReader(`{"processDefinitionId":"payment-process"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	t.Setenv("CAMUNDA_REST_ADDRESS", gw.URL()+"/")
	var stdout, stderr bytes.Buffer
	code := cli([]string{"-duration", "3s", "-metrics-addr", "", "-fail-share", "0"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	st := gw.Stats()
	if st.JobsCompleted+st.JobsErrored != jobs || st.InstancesCreated != jobs {
		t.Fatalf("gateway: %d instances, %d completed + %d errored, want %d jobs done and no load of the worker's own\n%s",
			st.InstancesCreated, st.JobsCompleted, st.JobsErrored, jobs, stdout.String())
	}
	if !strings.Contains(stdout.String(), "against "+gw.URL()) || strings.Contains(stdout.String(), "emulated") {
		t.Errorf("summary does not name the external cluster:\n%s", stdout.String())
	}
}

// TestInterruptedRunFinishesJobs: ending the run early (Ctrl-C) stops
// polling but finishes every job in hand.
func TestInterruptedRunFinishesJobs(t *testing.T) {
	t.Setenv("CAMUNDA_REST_ADDRESS", "")
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	c := shortConfig()
	c.duration = time.Minute
	c.work = 50 * time.Millisecond // jobs are in hand when the run ends
	start := time.Now()
	sum, err := run(ctx, c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.interrupted || time.Since(start) > 30*time.Second {
		t.Fatalf("interrupted = %v after %v", sum.interrupted, time.Since(start))
	}
	w := sum.worker
	if w.activated.Load() == 0 || w.completed.Load()+w.errored.Load()+w.failed.Load()+w.lost.Load() != w.activated.Load() {
		t.Fatalf("activated %d, completed %d, errored %d, failed %d, lost %d", w.activated.Load(), w.completed.Load(), w.errored.Load(), w.failed.Load(), w.lost.Load())
	}
	if w.lost.Load() != 0 {
		t.Errorf("%d jobs lost at shutdown", w.lost.Load())
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
