package dynamics

import (
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ebb-go/ebb/bench/internal/contender"
	"github.com/ebb-go/ebb/bench/internal/stats"
)

// kind is how a figure is written.
type kind int

const (
	kRatio kind = iota // 0.958
	kPct               // 3.50%
	kMS                // 100 ms
	kS                 // 0.50 s
	kCount             // 15
	kRate              // 2510/s
	kJain              // 0.96
)

func format(v float64, k kind) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case math.IsInf(v, 1):
		return "∞"
	}
	switch k {
	case kPct:
		return fmt.Sprintf("%.2f%%", 100*v)
	case kMS:
		if v < 10 {
			return fmt.Sprintf("%.1f ms", v)
		}
		return fmt.Sprintf("%.0f ms", v)
	case kS:
		return fmt.Sprintf("%.2f s", v)
	case kCount:
		return fmt.Sprintf("%.0f", v)
	case kRate:
		return fmt.Sprintf("%.0f/s", v)
	case kJain:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// cell writes a summary as "median [min–max]", or the median alone when
// every repetition gave the same.
func cell(s stats.Summary, k kind) string {
	if s.N == 0 {
		return "—"
	}
	m, lo, hi := format(float64(s.Median), k), format(float64(s.Min), k), format(float64(s.Max), k)
	if lo == hi {
		return m
	}
	unit := ""
	for _, u := range []string{" ms", " s", "%", "/s"} {
		if strings.HasSuffix(lo, u) && strings.HasSuffix(hi, u) {
			unit = u
			lo, hi = strings.TrimSuffix(lo, u), strings.TrimSuffix(hi, u)
			break
		}
	}
	return fmt.Sprintf("%s [%s–%s%s]", m, lo, hi, unit)
}

// get returns the summary of a figure, empty when it was not measured.
func (rep *Report) get(scenario, client, fig string) stats.Summary {
	return rep.Summary[scenario][client][fig]
}

// clientsOf lists the clients measured in a scenario, in the order of
// contender.All.
func (rep *Report) clientsOf(scenario string) []string {
	var out []string
	for _, c := range contender.All {
		if _, ok := rep.Summary[scenario][c.Key]; ok {
			out = append(out, c.Key)
		}
	}
	return out
}

func name(key string) string {
	if c, err := contender.Lookup(key); err == nil {
		return c.Name
	}
	return key
}

// column is a column of a table: a figure of a scenario.
type column struct {
	head     string
	scenario string
	fig      string
	kind     kind
}

// table writes one row per client of the first column's scenario (or of
// rows, when given).
func (rep *Report) table(b *strings.Builder, cols []column, rows []string) {
	if rows == nil {
		rows = rep.clientsOf(cols[0].scenario)
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("| client |")
	for _, c := range cols {
		b.WriteString(" " + c.head + " |")
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("--:|")
	}
	b.WriteString("\n")
	for _, client := range rows {
		n := name(client)
		if client == contender.KeyEbb {
			n = "**" + n + "**"
		}
		fmt.Fprintf(b, "| %s |", n)
		for _, c := range cols {
			fmt.Fprintf(b, " %s |", cell(rep.get(c.scenario, client, c.fig), c.kind))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func (rep *Report) outageNames() []string {
	var out []string
	for s := range rep.Summary {
		if strings.HasPrefix(s, "outage-") {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		da, db := outageLength(a), outageLength(b)
		if da != db {
			return int(da - db)
		}
		return strings.Compare(a, b)
	})
	return out
}

// firstOutage is the shortest outage answered with 503 UNAVAILABLE, the
// one issue 10's table shows.
func (rep *Report) firstOutage() string {
	for _, o := range rep.outageNames() {
		if !strings.HasSuffix(o, "-refuse") {
			return o
		}
	}
	return ""
}

// outageLength reads the length back from an outage scenario's name.
func outageLength(s string) time.Duration {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "outage-"), "-refuse")
	d, _ := time.ParseDuration(s)
	return d
}

func outageTitle(s string) string {
	d := outageLength(s)
	if strings.HasSuffix(s, "-refuse") {
		return fmt.Sprintf("A %v outage, connections refused", d)
	}
	return fmt.Sprintf("A %v outage, 503 UNAVAILABLE", d)
}

// Markdown writes the report's tables and charts; charts are linked under
// dir ("" for the directory the Markdown lands in).
func (rep *Report) Markdown(dir string) string {
	var b strings.Builder
	m := rep.Meta
	st := m.Settings
	dirty := ""
	if m.EbbDirty {
		dirty = ", with uncommitted changes outside bench/"
	}
	capacity := rep.get("probe", contender.KeyNone, FigCapacity)
	ideal := rep.get("probe", contender.KeyNone, FigIdealCapacity)
	fmt.Fprintf(&b, "Measured at ebb commit `%s`%s, %s, in %s (Go %s, %d CPUs, load average %s).\n\n",
		short(m.EbbCommit), dirty, m.Started, m.Elapsed, strings.TrimPrefix(m.GoVersion, "go"), m.CPUs, strings.Join(loadOnes(m.LoadAvg), " → "))
	fmt.Fprintf(&b, "Server: its own process on loopback, %d slots × %s; capacity, measured in each repetition by a client "+
		"without retries keeping exactly %d requests in flight: %s (the slots over the time each was really held: %s). "+
		"Every cell is the median [min–max] of %d repetitions; ratios are to figures of the same repetition. "+
		"`cd bench && go run ./cmd/dynamics` reproduces it.\n\n",
		st.Slots, st.Service, st.Slots, cell(capacity, kRate), cell(ideal, kRate), st.Reps)

	b.WriteString("### In the shape of issue 10's table\n\n")
	firstOutage := "an outage"
	if o := rep.firstOutage(); o != "" {
		firstOutage = strings.TrimSuffix(outageTitle(o), ", 503 UNAVAILABLE")
	}
	rep.table(&b, []column{
		{"goodput / capacity", ScenarioSteady, FigGoodput, kRatio},
		{"wasted attempts", ScenarioSteady, FigWasted, kPct},
		{"failed", ScenarioSteady, FigFailed, kPct},
		{"p99", ScenarioSteady, FigP99, kMS},
		{"starved goroutines", ScenarioSteady, FigStarved, kCount},
		{"Jain", ScenarioSteady, FigJain, kJain},
		{"back to 90% after " + strings.ToLower(firstOutage[:1]) + firstOutage[1:], rep.firstOutage(), FigRecovery, kS},
		{"refill after capacity halves and returns", ScenarioHalve, FigRefill, kS},
		{"lone client, " + fmt.Sprint(st.LoneRefusals) + " refusals then 200", ScenarioLone, FigLone, kS},
	}, rep.rowsOfAll())
	b.WriteString("∞: not reached within the run. — : not measured.\n\n")

	b.WriteString(rep.goals())

	fmt.Fprintf(&b, "### Steady overload\n\n%d goroutines in closed loops, %s. The queueing floor of a fair closed loop is G/capacity = %s.\n\n",
		st.Goroutines, st.Steady, format(float64(st.Goroutines)/float64(capacity.Median)*1000, kMS))
	rep.table(&b, []column{
		{"ok/s", ScenarioSteady, FigOKPerS, kRate},
		{"goodput / capacity", ScenarioSteady, FigGoodput, kRatio},
		{"wasted attempts", ScenarioSteady, FigWasted, kPct},
		{"failed", ScenarioSteady, FigFailed, kPct},
		{"of which refused locally", ScenarioSteady, FigFailedLocal, kPct},
		{"p50", ScenarioSteady, FigP50, kMS},
		{"p99", ScenarioSteady, FigP99, kMS},
		{"p99 / floor", ScenarioSteady, FigP99Floor, kRatio},
		{"starved", ScenarioSteady, FigStarved, kCount},
		{"Jain, goroutines", ScenarioSteady, FigJain, kJain},
	}, nil)

	if outages := rep.outageNames(); len(outages) > 0 {
		fmt.Fprintf(&b, "### Outages\n\n%d goroutines; %s the outage. Back to 90%%: from the server's recovery until its accepted answers "+
			"reach 90%% of the client's goodput before the outage (100 ms buckets; the first of 5 whose mean holds it). Attempts during "+
			"the outage are counted by the client below the library, against those of a client without retries in the same repetition.\n\n",
			st.Goroutines, st.OutageAround)
		for _, o := range outages {
			fmt.Fprintf(&b, "**%s**\n\n", outageTitle(o))
			rep.table(&b, []column{
				{"goodput before / capacity", o, FigBefore, kRatio},
				{"back to 90%", o, FigRecovery, kS},
				{"attempts/s during the outage", o, FigOutageAttPerS, kRate},
				{"× no retry", o, FigOutageShare, kPct},
				{"failed requests", o, FigFailed, kPct},
				{"of which refused locally", o, FigFailedLocal, kPct},
				{"refused locally/s from the outage on", o, FigLocalPerS, kRate},
			}, nil)
		}
	}

	fmt.Fprintf(&b, "### Capacity halves, then returns\n\n%d goroutines; %s. Refill: from the slots' return until the accepted "+
		"answers reach 90%% of the capacity.\n\n", st.Goroutines, st.Halve)
	rep.table(&b, []column{
		{"goodput before / capacity", ScenarioHalve, FigBefore, kRatio},
		{"while halved / half the capacity", ScenarioHalve, FigHalved, kRatio},
		{"refill to 90%", ScenarioHalve, FigRefill, kS},
	}, nil)

	fmt.Fprintf(&b, "### A lone client\n\nOne goroutine, one request, refused %d times with 503 RESOURCE_EXHAUSTED, then accepted. "+
		"The promise is the sum of the mean waits of the client's retry policy.\n\n", st.LoneRefusals)
	rep.table(&b, []column{
		{"wall time", ScenarioLone, FigLone, kS},
		{"promise", ScenarioLone, FigLonePromise, kS},
		{"× promise", ScenarioLone, FigLoneRatio, kRatio},
		{"attempts", ScenarioLone, FigLoneAttempts, kCount},
		{"succeeded", ScenarioLone, FigLoneOK, kCount},
	}, nil)

	fmt.Fprintf(&b, "### A hot partition\n\n%d goroutines against a server refusing %.0f%% of the requests at random, whatever the load; %s.\n\n",
		st.HotGoroutines, 100*st.HotShare, st.Hot)
	rep.table(&b, []column{
		{"ok/s", ScenarioHot, FigOKPerS, kRate},
		{"× ebb, limiter off", ScenarioHot, FigVsNoLimit, kRatio},
		{"wasted attempts", ScenarioHot, FigWasted, kPct},
		{"failed", ScenarioHot, FigFailed, kPct},
		{"of which refused locally", ScenarioHot, FigFailedLocal, kPct},
		{"p99", ScenarioHot, FigP99, kMS},
		{"starved", ScenarioHot, FigStarved, kCount},
		{"Jain, goroutines", ScenarioHot, FigJain, kJain},
	}, nil)

	for _, f := range []struct{ scenario, title string }{
		{"fleet-together", "started together"},
		{"fleet-staggered", "staggered: one alone for " + st.FleetAlone + ", then the others join"},
	} {
		if _, ok := rep.Summary[f.scenario]; !ok {
			continue
		}
		fmt.Fprintf(&b, "### A fleet, %s\n\n%d client processes × %d goroutines against one server; figures over %s after the last start.\n\n",
			f.title, st.FleetProcs, st.FleetGoroutines, st.Fleet)
		rep.table(&b, []column{
			{"sum / capacity", f.scenario, FigGoodput, kRatio},
			{"Jain, processes", f.scenario, FigJainProcs, kJain},
			{"smallest share", f.scenario, FigShareMin, kRatio},
			{"largest share", f.scenario, FigShareMax, kRatio},
			{"wasted attempts", f.scenario, FigWasted, kPct},
			{"failed", f.scenario, FigFailed, kPct},
			{"of which refused locally", f.scenario, FigFailedLocal, kPct},
			{"p99", f.scenario, FigP99, kMS},
			{"p99 / floor", f.scenario, FigP99Floor, kRatio},
			{"starved", f.scenario, FigStarved, kCount},
		}, nil)
	}

	if charts := rep.charts(); len(charts) > 0 {
		b.WriteString("### Charts\n\n")
		for _, c := range charts {
			fmt.Fprintf(&b, "![%s](%s)\n\n", c.title, path.Join(dir, c.file))
		}
	}
	if errs := rep.errors(); errs != "" {
		b.WriteString("### Runs that failed\n\n" + errs + "\n")
	}
	return b.String()
}

// rowsOfAll lists every client measured anywhere but the one without
// retries, in the order of contender.All.
func (rep *Report) rowsOfAll() []string {
	seen := map[string]bool{}
	for _, byClient := range rep.Summary {
		for c := range byClient {
			seen[c] = true
		}
	}
	var out []string
	for _, c := range contender.All {
		if seen[c.Key] && c.Key != contender.KeyNone {
			out = append(out, c.Key)
		}
	}
	return out
}

func (rep *Report) errors() string {
	var b strings.Builder
	for _, r := range rep.Records {
		if r.Error != "" {
			fmt.Fprintf(&b, "- repetition %d, %s, %s: %s\n", r.Rep+1, r.Scenario, name(r.Client), r.Error)
		}
	}
	return b.String()
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// loadOnes keeps the one-minute load averages of /proc/loadavg lines.
func loadOnes(lines []string) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.Fields(l + " ?")[0])
	}
	return out
}

// check is one condition of a goal, on ebb's figure.
type check struct {
	scenario, fig string
	// atMost: the figure must be at most limit; else at least.
	atMost bool
	limit  float64
	kind   kind
	label  string
}

// goals writes the table of issue 10's six goals against ebb's figures.
func (rep *Report) goals() string {
	type goal struct {
		name   string
		target string
		checks []check
	}
	var outage []check
	for _, o := range rep.outageNames() {
		outage = append(outage,
			check{o, FigRecovery, true, 1, kS, "back after " + strings.TrimPrefix(o, "outage-")},
			check{o, FigOutageShare, true, 0.05, kPct, "sent during " + strings.TrimPrefix(o, "outage-")})
	}
	var fleet []check
	for _, f := range []string{"fleet-together", "fleet-staggered"} {
		fleet = append(fleet,
			check{f, FigGoodput, false, 0.98, kRatio, f + " sum"},
			check{f, FigJainProcs, false, 0.99, kJain, f + " Jain"},
			check{f, FigWasted, true, 0.02, kPct, f + " wasted"},
			check{f, FigP99Floor, true, 1.2, kRatio, f + " p99/floor"})
	}
	goals := []goal{
		{"1. Outage recovery", "back to ≥ 90% within 1 s; ≤ 5% of a no-retry client's attempts during the outage", outage},
		{"2. Lone client", "waits what its retry policy promises (≤ 1.2× the mean, the slack of its ±50% jitter over a few repetitions)",
			[]check{{ScenarioLone, FigLoneRatio, true, 1.2, kRatio, "× promise"}}},
		{"3. Refill", "90% of the restored capacity within 0.3 s", []check{{ScenarioHalve, FigRefill, true, 0.3, kS, "refill"}}},
		{"4. Idle slots", "goodput ≥ 0.98, wasted ≤ 2%, no failure, no starved goroutine, p99 ≤ 1.2 × G/capacity", []check{
			{ScenarioSteady, FigGoodput, false, 0.98, kRatio, "goodput"},
			{ScenarioSteady, FigWasted, true, 0.02, kPct, "wasted"},
			{ScenarioSteady, FigFailed, true, 0, kPct, "failed"},
			{ScenarioSteady, FigStarved, true, 0, kCount, "starved"},
			{ScenarioSteady, FigP99Floor, true, 1.2, kRatio, "p99/floor"},
		}},
		{"5. Hot partition", "goodput ≥ 90% of the limiter-off chain's", []check{{ScenarioHot, FigVsNoLimit, false, 0.9, kRatio, "× limiter off"}}},
		{"6. Fleet", "sum ≥ 0.98, Jain over processes ≥ 0.99, wasted ≤ 2%, p99 ≤ 1.2 × the fleet's floor", fleet},
	}
	var b strings.Builder
	b.WriteString("### Issue 10's goals, for ebb with its defaults\n\n")
	b.WriteString("A condition is met when ebb's figure meets it in every repetition, met at the median when only the median does.\n\n")
	b.WriteString("| goal | target | ebb | met |\n|---|---|---|---|\n")
	for _, g := range goals {
		var parts []string
		verdict := "yes"
		measured := false
		for _, c := range g.checks {
			s := rep.get(c.scenario, contender.KeyEbb, c.fig)
			if s.N == 0 {
				continue
			}
			measured = true
			worst, med := float64(s.Min), float64(s.Median)
			if c.atMost {
				worst = float64(s.Max)
			}
			ok := func(v float64) bool {
				if math.IsNaN(v) {
					return false
				}
				if c.atMost {
					return v <= c.limit
				}
				return v >= c.limit
			}
			mark := ""
			switch {
			case ok(worst):
			case ok(med):
				mark = " (median only)"
				if verdict == "yes" {
					verdict = "at the median"
				}
			default:
				mark = " ✗"
				verdict = "not yet"
			}
			parts = append(parts, fmt.Sprintf("%s %s%s", c.label, cell(s, c.kind), mark))
		}
		if !measured {
			verdict = "not measured"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.name, g.target, strings.Join(parts, "; "), verdict)
	}
	b.WriteString("\n")
	return b.String()
}
