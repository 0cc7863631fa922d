package dynamics

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebb-go/ebb/bench/internal/contender"
	"github.com/ebb-go/ebb/bench/internal/load"
	"github.com/ebb-go/ebb/bench/internal/slot"
	"go.uber.org/goleak"
)

// The smoke test runs this test binary as the server and the clients, so
// that it needs no build of its own.
const (
	roleServer = "dynamics-test-role-server"
	roleClient = "dynamics-test-role-client"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case roleServer:
			os.Exit(slot.Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
		case roleClient:
			os.Exit(load.Main(os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	goleak.VerifyTestMain(m)
}

// tiny is the whole pipeline in about half a minute: every scenario, one
// repetition, two clients, small spans.
func tiny(t *testing.T) Config {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cfg := Default()
	cfg.Reps = 1
	cfg.Clients = []string{contender.KeyEbb, contender.KeyRetryableHTTP}
	cfg.Slots, cfg.Service, cfg.Goroutines, cfg.Timeout, cfg.Lead = 4, 5*time.Millisecond, 16, 3*time.Second, 300*time.Millisecond
	short := Phase{Warm: 200 * time.Millisecond, Measure: 500 * time.Millisecond}
	cfg.Probe, cfg.Steady, cfg.Hot, cfg.Fleet = short, short, short, short
	cfg.HotGoroutines = 6
	cfg.LoneRefusals = 1 // go-retryablehttp waits 1s per refusal
	cfg.HalvePre, cfg.Halved, cfg.HalvePost = 400*time.Millisecond, 400*time.Millisecond, 500*time.Millisecond
	cfg.Outages = []Outage{{400 * time.Millisecond, "unavailable"}, {400 * time.Millisecond, "refuse"}}
	cfg.OutagePre, cfg.OutagePost = 400*time.Millisecond, 500*time.Millisecond
	cfg.FleetProcs, cfg.FleetGoroutines, cfg.FleetAlone = 2, 8, 400*time.Millisecond
	cfg.Out = filepath.Join(out, "results")
	cfg.Readme = filepath.Join(out, "README.md")
	// The race detector sleeps a second at exit unless told not to.
	cfg.Programs = Programs{Server: []string{exe, roleServer}, Client: []string{exe, roleClient}, Env: []string{"GORACE=atexit_sleep_ms=0"}}
	if err := os.WriteFile(cfg.Readme, []byte("# bench\n\n"+beginMarker+"\nold\n"+endMarker+"\n\nafter\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSmoke runs the whole harness tiny and checks the shape of what it
// wrote, never its figures: timing belongs to the full run.
func TestSmoke(t *testing.T) {
	cfg := tiny(t)
	var log bytes.Buffer
	cfg.Log = &log
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Logf("%s Run", time.Now().Format("15:04:05.0"))
	rep, err := Run(ctx, cfg)
	t.Logf("%s Run returned", time.Now().Format("15:04:05.0"))
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	t.Logf("log:\n%s", log.String())

	// Every scenario has a record for every client, without error, with
	// its figures; the outages also for the client without retries.
	want := map[string][]string{
		ScenarioSteady:        {FigGoodput, FigWasted, FigFailed, FigP99, FigP99Floor, FigStarved, FigJain},
		ScenarioHot:           {FigOKPerS, FigVsNoLimit, FigWasted},
		ScenarioLone:          {FigLone, FigLonePromise, FigLoneRatio, FigLoneAttempts},
		ScenarioHalve:         {FigBefore, FigHalved, FigRefill},
		"outage-400ms":        {FigBefore, FigRecovery, FigOutageAtt, FigOutageShare},
		"outage-400ms-refuse": {FigBefore, FigRecovery, FigOutageAtt, FigOutageShare},
		"fleet-together":      {FigGoodput, FigJainProcs, FigShareMin, FigShareMax, FigP99Floor},
		"fleet-staggered":     {FigGoodput, FigJainProcs, FigShareMin, FigShareMax, FigP99Floor},
	}
	for scenario, figs := range want {
		clients := slices.Clone(cfg.Clients)
		if strings.HasPrefix(scenario, "outage-") {
			clients = append(clients, contender.KeyNone)
		}
		for _, client := range clients {
			var found bool
			for _, r := range rep.Records {
				if r.Scenario != scenario || r.Client != client {
					continue
				}
				found = true
				if r.Error != "" {
					t.Errorf("%s, %s: %s", scenario, client, r.Error)
					continue
				}
				for _, f := range figs {
					if _, ok := r.Figures[f]; !ok && !(f == FigVsNoLimit || f == FigOutageShare && client == contender.KeyNone) {
						t.Errorf("%s, %s: no %s in %v", scenario, client, f, r.Figures)
					}
				}
			}
			if !found {
				t.Errorf("%s: no record for %s", scenario, client)
			}
		}
	}
	if rep.Meta.EbbCommit == "" || rep.Meta.Settings.Reps != 1 {
		t.Errorf("meta %+v", rep.Meta)
	}
	if _, ok := rep.Summary[ScenarioSteady][contender.KeyEbb][FigGoodput]; !ok {
		t.Errorf("summary without steady ebb goodput: %v", rep.Summary[ScenarioSteady])
	}

	// The JSON parses back into as many records.
	back, err := Read(filepath.Join(cfg.Out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Records) != len(rep.Records) {
		t.Errorf("results.json: %d records, want %d", len(back.Records), len(rep.Records))
	}

	// Every chart is a PNG, and the Markdown shows it.
	md, err := os.ReadFile(filepath.Join(cfg.Out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"outage-400ms.png", "outage-400ms-refuse.png", "halve.png", "steady-latency.png", "fleet-staggered.png"} {
		f, err := os.Open(filepath.Join(cfg.Out, c))
		if err != nil {
			t.Error(err)
			continue
		}
		if _, err := png.DecodeConfig(f); err != nil {
			t.Errorf("%s: %v", c, err)
		}
		f.Close()
		if !strings.Contains(string(md), "("+c+")") {
			t.Errorf("results.md does not show %s", c)
		}
	}
	for _, h := range []string{"### In the shape of issue 10's table", "### Issue 10's goals", "| **ebb** |", "| go-retryablehttp 0.7.8 |"} {
		if !strings.Contains(string(md), h) {
			t.Errorf("results.md has no %q", h)
		}
	}

	// The README's section was replaced, the rest kept, the charts linked
	// relative to it.
	readme, err := os.ReadFile(cfg.Readme)
	if err != nil {
		t.Fatal(err)
	}
	r := string(readme)
	if strings.Contains(r, "\nold\n") || !strings.HasPrefix(r, "# bench\n") || !strings.HasSuffix(r, endMarker+"\n\nafter\n") ||
		!strings.Contains(r, "](results/halve.png)") {
		t.Errorf("README:\n%s", r)
	}
}
