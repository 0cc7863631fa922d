package dynamics

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebb-go/ebb/bench/internal/contender"
	"github.com/ebb-go/ebb/bench/internal/stats"
)

func TestCell(t *testing.T) {
	inf := stats.Num(math.Inf(1))
	for _, tc := range []struct {
		give stats.Summary
		kind kind
		want string
	}{
		{stats.Summary{Median: 0.958, Min: 0.95, Max: 0.962, N: 5}, kRatio, "0.958 [0.950–0.962]"},
		{stats.Summary{Median: 0.035, Min: 0.02, Max: 0.05, N: 5}, kPct, "3.50% [2.00–5.00%]"},
		{stats.Summary{Median: 100, Min: 90, Max: 150, N: 5}, kMS, "100 ms [90–150 ms]"},
		{stats.Summary{Median: 6.5, Min: 0.5, Max: inf, N: 5}, kS, "6.50 s [0.50 s–∞]"},
		{stats.Summary{Median: 0, Min: 0, Max: 0, N: 5}, kCount, "0"},
		{stats.Summary{}, kRatio, "—"},
	} {
		if got := cell(tc.give, tc.kind); got != tc.want {
			t.Errorf("cell(%+v) = %q, want %q", tc.give, got, tc.want)
		}
	}
}

func TestRotate(t *testing.T) {
	xs := []string{"a", "b", "c"}
	for n, want := range [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}, {"a", "b", "c"}} {
		if got := rotate(xs, n); !slices.Equal(got, want) {
			t.Errorf("rotate(%d) = %v, want %v", n, got, want)
		}
	}
	if !slices.Equal(xs, []string{"a", "b", "c"}) {
		t.Errorf("rotate changed its input: %v", xs)
	}
}

// summary builds a report whose ebb figures are given, one value per
// repetition.
func summary(figs map[string]map[string][]stats.Num) *Report {
	rep := &Report{}
	for scenario, byFig := range figs {
		for fig, vals := range byFig {
			for i, v := range vals {
				rep.Records = append(rep.Records, Record{Scenario: scenario, Client: contender.KeyEbb, Rep: i, Figures: map[string]stats.Num{fig: v}})
			}
		}
	}
	rep.summarize()
	return rep
}

func TestGoalsVerdicts(t *testing.T) {
	rep := summary(map[string]map[string][]stats.Num{
		ScenarioHalve: {FigRefill: {0.1, 0.2, 0.25}},                                      // every repetition within 0.3s
		ScenarioLone:  {FigLoneRatio: {1.0, 1.1, 3.0}},                                    // the median only
		ScenarioHot:   {FigVsNoLimit: {0.01, 0.02, 0.5}},                                  // not yet
		"outage-5s":   {FigRecovery: {0.5, 0.6, 0.7}, FigOutageShare: {0.01, 0.02, 0.03}}, // met
	})
	g := rep.goals()
	for _, want := range []string{
		"| 3. Refill | 90% of the restored capacity within 0.3 s | refill 0.20 s [0.10–0.25 s] | yes |",
		"× promise 1.100 [1.000–3.000] (median only) | at the median |",
		"× limiter off 0.020 [0.010–0.500] ✗ | not yet |",
		"back after 5s 0.60 s [0.50–0.70 s]; sent during 5s 2.00% [1.00–3.00%] | yes |",
		"| 4. Idle slots |", "| not measured |",
	} {
		if !strings.Contains(g, want) {
			t.Errorf("goals lack %q:\n%s", want, g)
		}
	}
}

func TestOutageNamesSortByLength(t *testing.T) {
	rep := &Report{Summary: map[string]map[string]map[string]stats.Summary{
		"outage-30s": {}, "outage-5s-refuse": {}, "outage-5s": {}, ScenarioSteady: {},
	}}
	if got, want := rep.outageNames(), []string{"outage-5s", "outage-5s-refuse", "outage-30s"}; !slices.Equal(got, want) {
		t.Errorf("outageNames = %v, want %v", got, want)
	}
	if got := rep.firstOutage(); got != "outage-5s" {
		t.Errorf("firstOutage = %q", got)
	}
	if got := (Outage{30 * time.Second, "refuse"}).Name(); got != "outage-30s-refuse" || outageLength(got) != 30*time.Second {
		t.Errorf("Name = %q", got)
	}
}

func TestValidate(t *testing.T) {
	ok := Default()
	ok.Programs = Programs{Server: []string{"s"}, Client: []string{"c"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("the default: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
	}{
		{"no rep", func(c *Config) { c.Reps = 0 }},
		{"unknown client", func(c *Config) { c.Clients = []string{"curl"} }},
		{"unknown scenario", func(c *Config) { c.Scenarios = []string{"chaos"} }},
		{"outage mode", func(c *Config) { c.Outages = []Outage{{time.Second, "flood"}} }},
		{"share", func(c *Config) { c.HotShare = 1.5 }},
		{"one slot", func(c *Config) { c.Slots = 1 }},
		{"readme without out", func(c *Config) { c.Readme, c.Out = "README.md", "" }},
		{"no programs", func(c *Config) { c.Programs = Programs{} }},
	} {
		c := ok
		c.Outages = slices.Clone(ok.Outages)
		tc.change(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestScaleKeepsTheRequestsOwnTimes(t *testing.T) {
	c := Default()
	c.Scale(0.5)
	d := Default()
	if c.Steady.Measure != d.Steady.Measure/2 || c.Outages[1].Length != 15*time.Second || c.FleetAlone != 5*time.Second {
		t.Errorf("scaled spans: %+v", c)
	}
	if c.Timeout != d.Timeout || c.Service != d.Service || c.Lead != d.Lead {
		t.Errorf("Scale changed the timeout, the service time or the lead")
	}
}

func TestDeriveComparesWithinARepetition(t *testing.T) {
	recs := []Record{
		{Scenario: ScenarioHot, Client: contender.KeyEbb, Rep: 0, Figures: map[string]stats.Num{FigOKPerS: 100}},
		{Scenario: ScenarioHot, Client: contender.KeyEbbNoLimiter, Rep: 0, Figures: map[string]stats.Num{FigOKPerS: 1000}},
		{Scenario: ScenarioHot, Client: contender.KeyEbbNoLimiter, Rep: 1, Figures: map[string]stats.Num{FigOKPerS: 10}},
		{Scenario: "outage-5s", Client: contender.KeyNone, Rep: 0, Figures: map[string]stats.Num{FigOutageAtt: 10000}},
		{Scenario: "outage-5s", Client: contender.KeyEbb, Rep: 0, Figures: map[string]stats.Num{FigOutageAtt: 300}},
	}
	derive(recs, 0)
	if got := recs[0].Figures[FigVsNoLimit]; got != 0.1 {
		t.Errorf("hot ebb vs limiter off = %v, want 0.1 (the same repetition's)", got)
	}
	if got := recs[4].Figures[FigOutageShare]; got != 0.03 {
		t.Errorf("outage share = %v, want 0.03", got)
	}
	if _, ok := recs[2].Figures[FigVsNoLimit]; ok {
		t.Errorf("repetition 1 was derived with repetition 0")
	}
}
