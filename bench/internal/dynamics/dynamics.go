package dynamics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ebb-go/ebb/bench/internal/contender"
	"github.com/ebb-go/ebb/bench/internal/stats"
)

// Report is everything a run measured.
type Report struct {
	Meta    Meta     `json:"meta"`
	Records []Record `json:"records"`
	// Summary is, per scenario, client and figure, the median [min–max]
	// over the repetitions.
	Summary map[string]map[string]map[string]stats.Summary `json:"summary"`
}

// Meta says what was measured, where and when.
type Meta struct {
	// EbbCommit is the commit of the ebb module measured (the bench
	// module replaces it with its parent directory), and EbbDirty whether
	// the module had changes outside bench/ not in that commit.
	EbbCommit string `json:"ebb_commit"`
	EbbDirty  bool   `json:"ebb_dirty"`
	Started   string `json:"started"`
	Elapsed   string `json:"elapsed"`
	GoVersion string `json:"go_version"`
	CPUs      int    `json:"cpus"`
	// LoadAvg is /proc/loadavg when the run started and ended: the
	// machine may be shared.
	LoadAvg []string `json:"load_avg"`
	// Deps are the versions in the client binary.
	Deps map[string]string `json:"deps"`
	// Settings are the run's configuration.
	Settings Settings `json:"settings"`
}

// Settings is the serialisable part of a Config.
type Settings struct {
	Reps            int      `json:"reps"`
	Clients         []string `json:"clients"`
	Scenarios       []string `json:"scenarios"`
	Slots           int      `json:"slots"`
	Service         string   `json:"service"`
	Goroutines      int      `json:"goroutines"`
	Timeout         string   `json:"timeout"`
	Probe           string   `json:"probe"`
	Steady          string   `json:"steady"`
	Hot             string   `json:"hot"`
	HotGoroutines   int      `json:"hot_goroutines"`
	HotShare        float64  `json:"hot_share"`
	LoneRefusals    int      `json:"lone_refusals"`
	Halve           string   `json:"halve"`
	Outages         []string `json:"outages"`
	OutageAround    string   `json:"outage_around"`
	FleetProcs      int      `json:"fleet_procs"`
	FleetGoroutines int      `json:"fleet_goroutines"`
	FleetAlone      string   `json:"fleet_alone"`
	Fleet           string   `json:"fleet"`
}

func settings(c Config) Settings {
	phase := func(p Phase) string { return p.Warm.String() + " warm-up + " + p.Measure.String() + " measured" }
	s := Settings{
		Reps: c.Reps, Clients: c.Clients, Scenarios: c.Scenarios,
		Slots: c.Slots, Service: c.Service.String(), Goroutines: c.Goroutines, Timeout: c.Timeout.String(),
		Probe: phase(c.Probe), Steady: phase(c.Steady), Hot: phase(c.Hot),
		HotGoroutines: c.HotGoroutines, HotShare: c.HotShare, LoneRefusals: c.LoneRefusals,
		Halve:        fmt.Sprintf("%v full, %v halved, %v restored", c.HalvePre, c.Halved, c.HalvePost),
		OutageAround: fmt.Sprintf("%v before, %v after", c.OutagePre, c.OutagePost),
		FleetProcs:   c.FleetProcs, FleetGoroutines: c.FleetGoroutines, FleetAlone: c.FleetAlone.String(), Fleet: phase(c.Fleet),
	}
	for _, o := range c.Outages {
		s.Outages = append(s.Outages, o.Name())
	}
	return s
}

func (c Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Run runs the harness: it starts the server process, runs every
// scenario for every client in each repetition (the clients in a rotating
// order, so that a machine getting busier does not always hurt the same
// one), summarises, and writes the outputs Config asks for. A failed
// client run is recorded with its error and the run goes on; Run fails only
// when the server cannot start, the capacity cannot be probed, or ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	started := time.Now()
	rep := &Report{Meta: Meta{
		Started: started.UTC().Format(time.RFC3339), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		LoadAvg: []string{loadAvg()}, Settings: settings(cfg),
	}}
	rep.Meta.EbbCommit, rep.Meta.EbbDirty = ebbCommit()
	cfg.logf("dynamics: %d repetitions, about %v", cfg.Reps, cfg.Estimate().Round(time.Minute))

	srv, err := startServer(ctx, cfg.Programs, cfg.Slots, cfg.Service)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	cfg.logf("%s server at %s, control at %s", time.Now().Format("15:04:05.0"), srv.ready.API, srv.ready.Control)

	for r := range cfg.Reps {
		e := &env{cfg: cfg, srv: srv, rep: r}
		probe := e.probe(ctx)
		rep.add(cfg, probe)
		if rep.Meta.Deps == nil {
			rep.Meta.Deps = e.deps
		}
		if probe.Error != "" {
			return nil, fmt.Errorf("dynamics: capacity probe: %s", probe.Error)
		}
		order := rotate(cfg.Clients, r)
		for _, s := range cfg.Scenarios {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			switch s {
			case ScenarioSteady:
				for _, lib := range order {
					rep.add(cfg, e.steady(ctx, lib))
				}
			case ScenarioHot:
				for _, lib := range order {
					rep.add(cfg, e.hot(ctx, lib))
				}
			case ScenarioLone:
				for _, lib := range order {
					rep.add(cfg, e.lone(ctx, lib))
				}
			case ScenarioHalve:
				for _, lib := range order {
					rep.add(cfg, e.halve(ctx, lib))
				}
			case ScenarioOutage:
				for _, o := range cfg.Outages {
					for _, lib := range append([]string{contender.KeyNone}, order...) {
						rep.add(cfg, e.outage(ctx, lib, o))
					}
				}
			case ScenarioFleet:
				for _, staggered := range []bool{false, true} {
					for _, lib := range order {
						rep.add(cfg, e.fleet(ctx, lib, staggered))
					}
				}
			}
		}
		derive(rep.Records, r)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.Meta.LoadAvg = append(rep.Meta.LoadAvg, loadAvg())
	rep.Meta.Elapsed = time.Since(started).Round(time.Second).String()
	rep.summarize()
	cfg.logf("%s writing the results", time.Now().Format("15:04:05.0"))
	if cfg.Out != "" {
		if err := rep.Write(cfg.Out); err != nil {
			return rep, err
		}
	}
	if cfg.Readme != "" {
		if err := rep.UpdateReadme(cfg.Readme, cfg.Out); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// add keeps a record and logs it in a line.
func (rep *Report) add(cfg Config, r Record) {
	rep.Records = append(rep.Records, r)
	if r.Error != "" {
		cfg.logf("%s rep %d %-18s %-14s ERROR %s", time.Now().Format("15:04:05.0"), r.Rep+1, r.Scenario, r.Client, r.Error)
		return
	}
	keys := make([]string, 0, len(r.Figures))
	for k := range r.Figures {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%.4g", k, float64(r.Figures[k]))
	}
	cfg.logf("%s rep %d %-18s %-14s%s", time.Now().Format("15:04:05.0"), r.Rep+1, r.Scenario, r.Client, b.String())
}

// summarize computes the median [min–max] of every figure.
func (rep *Report) summarize() {
	vals := map[string]map[string]map[string][]stats.Num{}
	for _, r := range rep.Records {
		if r.Error != "" {
			continue
		}
		if vals[r.Scenario] == nil {
			vals[r.Scenario] = map[string]map[string][]stats.Num{}
		}
		if vals[r.Scenario][r.Client] == nil {
			vals[r.Scenario][r.Client] = map[string][]stats.Num{}
		}
		for k, v := range r.Figures {
			vals[r.Scenario][r.Client][k] = append(vals[r.Scenario][r.Client][k], v)
		}
	}
	rep.Summary = map[string]map[string]map[string]stats.Summary{}
	for s, byClient := range vals {
		rep.Summary[s] = map[string]map[string]stats.Summary{}
		for c, byFig := range byClient {
			rep.Summary[s][c] = map[string]stats.Summary{}
			for k, v := range byFig {
				rep.Summary[s][c][k] = stats.Summarize(v)
			}
		}
	}
}

// rotate returns xs rotated left by n.
func rotate(xs []string, n int) []string {
	n %= len(xs)
	return append(slices.Clone(xs[n:]), xs[:n]...)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// ebbCommit is the commit of the repository holding the working
// directory, and whether anything outside bench/ differs from it.
func ebbCommit() (string, bool) {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown", false
	}
	commit := strings.TrimSpace(string(out))
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return commit, false
	}
	st, err := exec.Command("git", "-C", strings.TrimSpace(string(top)), "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench").Output()
	if err != nil {
		return commit, false
	}
	return commit, len(strings.TrimSpace(string(st))) > 0
}

// Write writes results.json, results.md and the charts into dir.
func (rep *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := rep.marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		return err
	}
	if err := rep.RenderCharts(dir); err != nil {
		return err
	}
	md := rep.Markdown("")
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(md), 0o644)
}

// marshal writes the report as JSON with a line per record, small enough
// to keep in the repository and to read a diff of.
func (rep *Report) marshal() ([]byte, error) {
	var b bytes.Buffer
	part := func(prefix string, v any) error {
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.WriteString(prefix)
		b.Write(j)
		return nil
	}
	if err := part(`{"meta":`, rep.Meta); err != nil {
		return nil, err
	}
	b.WriteString(",\n\"records\":[")
	for i, r := range rep.Records {
		sep := ",\n"
		if i == 0 {
			sep = "\n"
		}
		if err := part(sep, r); err != nil {
			return nil, err
		}
	}
	if err := part("\n],\n\"summary\":", rep.Summary); err != nil {
		return nil, err
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// Read reads a results.json that Write wrote.
func Read(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("dynamics: %s: %w", path, err)
	}
	return &rep, nil
}

// Markers bound the section of a README that UpdateReadme replaces.
const (
	beginMarker = "<!-- dynamics:begin -->"
	endMarker   = "<!-- dynamics:end -->"
)

// UpdateReadme replaces the section of the Markdown file readme between
// the dynamics markers with the report's tables and charts (the charts
// Write put in dir, linked relative to the README).
func (rep *Report) UpdateReadme(readme, dir string) error {
	b, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("dynamics: %s has no %s … %s section", readme, beginMarker, endMarker)
	}
	rel, err := filepath.Rel(filepath.Dir(readme), dir)
	if err != nil {
		return err
	}
	md := rep.Markdown(filepath.ToSlash(rel))
	s = s[:i+len(beginMarker)] + "\n" + md + s[j:]
	return os.WriteFile(readme, []byte(s), 0o644)
}
