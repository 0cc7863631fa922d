package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDashboardQueries checks the Grafana dashboard in examples/dashboard
// against what the package exports: every metric a query names exists, and
// every exported family has a panel.
func TestDashboardQueries(t *testing.T) {
	data, err := os.ReadFile("../examples/dashboard/ebb.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}

	exported := map[string]bool{}
	for _, f := range families(t, Options{}) {
		exported[f.name] = true
	}
	if len(exported) != 16 {
		t.Fatalf("exported families = %d, want the 16 of DESIGN.md: %v", len(exported), exported)
	}

	used := map[string]bool{}
	metricRE := regexp.MustCompile(`\bebb_[a-z_]+`)
	queries := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			queries++
			for _, name := range metricRE.FindAllString(target.Expr, -1) {
				family := name
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if f, ok := strings.CutSuffix(name, suffix); ok {
						if _, isFamily := exported[f]; isFamily {
							family = f
						}
					}
				}
				if _, ok := exported[family]; !ok {
					t.Errorf("panel %q queries %s, which ebb does not export", p.Title, name)
				}
				used[family] = true
			}
		}
	}
	for name := range exported {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
	if queries < len(exported) {
		t.Errorf("only %d queries", queries)
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	slices.Sort(names)
	t.Logf("%d queries over %d families: %v", queries, len(names), names)
}

type family struct {
	name, kind, labels string
}

// families lists what a Metrics exports: name, type and variable labels.
func families(t *testing.T, o Options) []family {
	t.Helper()
	m, err := New(nil, o)
	if err != nil {
		t.Fatal(err)
	}
	nameRE := regexp.MustCompile(`fqName: "([a-zA-Z_:]+)".*variableLabels: \{([a-z,]*)\}`)
	var out []family
	for _, c := range m.collectors() {
		ch := make(chan *prometheus.Desc, 16)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			match := nameRE.FindStringSubmatch(d.String())
			if match == nil {
				t.Fatalf("cannot read %s", d)
			}
			kind := "counter"
			switch c.(type) {
			case *prometheus.GaugeVec, *gauges:
				kind = "gauge"
			case *prometheus.HistogramVec:
				kind = "histogram"
			}
			out = append(out, family{match[1], kind, match[2]})
		}
	}
	return out
}

// TestFamiliesMatchDesign pins the names, types and labels of DESIGN.md
// section 6: dashboards and alerts depend on them.
func TestFamiliesMatchDesign(t *testing.T) {
	want := []family{
		{"ebb_requests_total", "counter", "host,route,method,outcome"},
		{"ebb_request_duration_seconds", "histogram", "host,route,method,outcome"},
		{"ebb_attempts_total", "counter", "host,route,method,code,verdict"},
		{"ebb_attempts_per_request", "histogram", "host,route"},
		{"ebb_retries_total", "counter", "host,route,reason"},
		{"ebb_retry_delay_seconds", "histogram", "host,source"},
		{"ebb_retry_budget_exhausted_total", "counter", "host"},
		{"ebb_backpressure_total", "counter", "host,route"},
		{"ebb_breaker_state", "gauge", "host"},
		{"ebb_breaker_transitions_total", "counter", "host,from,to"},
		{"ebb_breaker_rejections_total", "counter", "host"},
		{"ebb_limiter_limit", "gauge", "host"},
		{"ebb_limiter_in_flight", "gauge", "host"},
		{"ebb_limiter_waiting", "gauge", "host"},
		{"ebb_limiter_wait_seconds", "histogram", "host"},
		{"ebb_limiter_rejections_total", "counter", "host"},
	}
	byName := func(a, b family) int { return strings.Compare(a.name, b.name) }
	got := families(t, Options{})
	slices.SortFunc(got, byName)
	slices.SortFunc(want, byName)
	if !slices.Equal(got, want) {
		t.Fatalf("families:\n%v\nwant\n%v", got, want)
	}
	for _, f := range families(t, Options{Namespace: "worker"}) {
		if !strings.HasPrefix(f.name, "worker_") {
			t.Errorf("namespace not applied: %s", f.name)
		}
	}
}
