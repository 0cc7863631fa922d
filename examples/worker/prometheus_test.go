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
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebb-go/ebb/camundatest"
	"github.com/ebb-go/ebb/internal/testkit"
)

// TestDashboardOnPrometheus has a real Prometheus server (Debian's
// prometheus package; .ci/run installs it) scrape the demo while it works
// against a gateway that pushes back and then goes down for a while, and
// evaluates every query of the Grafana dashboard (examples/dashboard/ebb.json)
// through Prometheus's HTTP API, for all hosts and for the one host the
// dashboard's host variable offers. Every query must parse and run; a query
// must return series when the demo's own metrics show that the events it
// charts happened (backpressure, retries, limiter waits, breaker
// transitions and refusals, ...). A query of events that did not happen
// only has to run.
func TestDashboardOnPrometheus(t *testing.T) {
	promBin := prometheusBinary(t)
	panels := dashboardQueries(t)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()

	// A small gateway, so that the demo's load meets backpressure, and
	// whose outage opens the breaker; a short open period lets it close
	// again within the test.
	gw := camundatest.NewGateway(
		camundatest.WithProcess("payment-process", "payment"),
		camundatest.WithCapacity(camundatest.Capacity{Slots: 2, ServiceTime: 5 * time.Millisecond}),
	)
	defer gw.Close()
	t.Setenv("EBB_BREAKER_OPEN_TIMEOUT", "300ms")
	c := shortConfig()
	c.address, c.duration, c.metricsAddr = gw.URL(), time.Minute, "127.0.0.1:0"
	ready := make(chan *summary, 1)
	c.ready = func(s *summary) { ready <- s }
	demoCtx, stopDemo := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := run(demoCtx, c, io.Discard)
		done <- err
	}()
	// However the test ends, the demo stops and is waited for.
	defer func() {
		stopDemo()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var sum *summary
	select {
	case sum = <-ready:
	case <-ctx.Done():
		t.Fatal("the demo never started")
	}
	if sum.metricsAddr == "" {
		t.Fatal("the demo serves no metrics")
	}

	prom := startPrometheus(ctx, t, promBin, sum.metricsAddr)

	// Phase 1: overload. Prometheus has scraped backpressure.
	waitFor(ctx, t, "Prometheus to see backpressure", func() bool {
		v, err := prom.scalar("sum(ebb_backpressure_total)")
		return err == nil && v > 0
	})
	// Phase 2: an outage opens the breaker; once the gateway is back, the
	// breaker probes and closes.
	transitions := func(to string) float64 {
		m, err := readMetrics(sum.registry, "ebb")
		if err != nil {
			t.Fatal(err)
		}
		return m.by("breaker_transitions_total", "to")[to]
	}
	if err := gw.StartOutage(camundatest.Refuse); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the breaker to open", func() bool { return transitions("open") > 0 })
	if err := gw.StopOutage(); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the breaker to close again", func() bool { return transitions("closed") > 0 })

	// What happened, by the demo's own metrics; then two scrapes that
	// started after this moment, so that every series seen here has two
	// samples in Prometheus, as rate() needs.
	m, err := readMetrics(sum.registry, "ebb")
	if err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	var scraped float64
	waitFor(ctx, t, "two scrapes after the events", func() bool {
		ts, err := prom.scalar(`max(timestamp(up{job="ebb-demo"}))`)
		if err != nil || ts <= float64(frozen.UnixMilli())/1000 {
			return false
		}
		if scraped == 0 {
			scraped = ts
		}
		return ts > scraped
	})

	// The dashboard's host variable: label_values(ebb_requests_total, host).
	host := hostOf(gw.URL())
	hosts, err := prom.labelValues("host", "ebb_requests_total")
	if err != nil || !slices.Equal(hosts, []string{host}) {
		t.Errorf("the host variable offers %v (%v); want [%s]", hosts, err, host)
	}

	happened := func(family string) bool {
		for _, s := range m[family] {
			if s.gauge || s.value > 0 || s.count > 0 {
				return true
			}
		}
		return false
	}
	metricRE := regexp.MustCompile(`\bebb_[a-z_]+`)
	var withSeries, parsedOnly []string
	for _, p := range panels {
		var families []string
		expect := true
		for _, name := range metricRE.FindAllString(p.expr, -1) {
			family := strings.TrimPrefix(name, "ebb_")
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				family = strings.TrimSuffix(family, suffix)
			}
			families = append(families, family)
			expect = expect && happened(family)
		}
		if len(families) == 0 {
			t.Errorf("panel %q: query %q names no ebb metric", p.title, p.expr)
			continue
		}
		// All hosts, and the one host as Grafana writes a selected value
		// into a regular expression: its metacharacters escaped, the
		// backslashes doubled inside PromQL's string.
		for _, hostValue := range []string{".*", strings.ReplaceAll(regexp.QuoteMeta(host), `\`, `\\`)} {
			q := strings.NewReplacer("$host", hostValue, "$__rate_interval", "1m").Replace(p.expr)
			if strings.Contains(q, "$") {
				t.Errorf("panel %q: query %q uses a variable the test does not know", p.title, p.expr)
				continue
			}
			n, err := prom.series(q)
			switch {
			case err != nil:
				t.Errorf("panel %q: %s: %v", p.title, q, err)
			case expect && n == 0:
				t.Errorf("panel %q: %s: no series, though the demo's metrics show %v happened", p.title, q, families)
			}
		}
		if expect {
			withSeries = append(withSeries, p.title)
		} else {
			parsedOnly = append(parsedOnly, fmt.Sprintf("%s %v", p.title, families))
		}
	}
	// The run above produces the events of nearly every panel: the test
	// checks series, not just syntax, for most of the dashboard.
	if len(withSeries) < len(panels)-2 {
		t.Errorf("only %d of %d queries had events to show; without events: %v", len(withSeries), len(panels), parsedOnly)
	}
	t.Logf("%d queries evaluated on Prometheus; %d returned the series their events call for; run only, as their events did not happen: %v",
		len(panels), len(withSeries), parsedOnly)
}

// panelQuery is one query of the dashboard.
type panelQuery struct{ title, expr string }

// dashboardQueries reads every query of examples/dashboard/ebb.json,
// nested panels included.
func dashboardQueries(t *testing.T) []panelQuery {
	t.Helper()
	data, err := os.ReadFile("../dashboard/ebb.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	var out []panelQuery
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatal(err)
			}
			for _, target := range p.Targets {
				out = append(out, panelQuery{p.Title, target.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	if len(out) < 16 {
		t.Fatalf("only %d queries in the dashboard", len(out))
	}
	return out
}

// prometheusBinary finds the prometheus server: $EBB_PROMETHEUS, else on
// the PATH. Under CI its absence fails the test rather than skips it.
func prometheusBinary(t *testing.T) string {
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
	return path
}

// promServer is a Prometheus server's HTTP API.
type promServer struct{ base string }

// startPrometheus runs a Prometheus server that scrapes target every 200ms,
// and waits until it is ready. It stops when the test ends.
func startPrometheus(ctx context.Context, t *testing.T, path, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\nscrape_configs:\n  - job_name: ebb-demo\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	var logs testkit.Output
	cmd := exec.CommandContext(ctx, path,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("Prometheus's log:\n%s", logs.String())
		}
	})
	p := &promServer{base: "http://" + addr}
	waitFor(ctx, t, "Prometheus to be ready", func() bool {
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// apiResult is an answer of Prometheus's HTTP API.
type apiResult struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

func (p *promServer) get(path string, params url.Values) (json.RawMessage, error) {
	resp, err := http.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r apiResult
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", resp.Status, bytes.TrimSpace(body), err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s: %s", resp.Status, r.ErrorType, r.Error)
	}
	return r.Data, nil
}

// query runs an instant query and returns the values of its vector.
func (p *promServer) query(q string) ([]float64, error) {
	data, err := p.get("/api/v1/query", url.Values{"query": {q}})
	if err != nil {
		return nil, err
	}
	var d struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	if d.ResultType != "vector" {
		return nil, fmt.Errorf("result type %q, want a vector", d.ResultType)
	}
	var out []float64
	for _, r := range d.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", s, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// series runs an instant query and returns how many series it returned.
func (p *promServer) series(q string) (int, error) {
	vs, err := p.query(q)
	return len(vs), err
}

// scalar runs an instant query that returns a single series.
func (p *promServer) scalar(q string) (float64, error) {
	vs, err := p.query(q)
	if err != nil {
		return 0, err
	}
	if len(vs) != 1 {
		return 0, fmt.Errorf("%d series", len(vs))
	}
	return vs[0], nil
}

// labelValues returns the values of a label among the series matching match.
func (p *promServer) labelValues(label, match string) ([]string, error) {
	data, err := p.get("/api/v1/label/"+label+"/values", url.Values{"match[]": {match}})
	if err != nil {
		return nil, err
	}
	var out []string
	return out, json.Unmarshal(data, &out)
}

// waitFor polls cond every 50ms until it holds, failing the test when ctx
// ends first.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
