package dynamics

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Build compiles the server and the client into a new temporary
// directory, with the go command of the environment, from the bench
// module that holds the working directory. The caller removes dir.
func Build(ctx context.Context, log io.Writer) (p Programs, dir string, err error) {
	dir, err = os.MkdirTemp("", "dynamics-bin-")
	if err != nil {
		return p, "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
		"github.com/ebb-go/ebb/bench/cmd/slotserver", "github.com/ebb-go/ebb/bench/cmd/loadclient")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return p, "", fmt.Errorf("dynamics: go build (run from the bench module): %w", err)
	}
	return Programs{
		Server: []string{filepath.Join(dir, "slotserver")},
		Client: []string{filepath.Join(dir, "loadclient")},
	}, dir, nil
}

// Main is the driver's command (cmd/dynamics): it parses args, builds the
// server and the client, runs the harness and writes its outputs.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg := Default()
	fs := flag.NewFlagSet("dynamics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		clients   = fs.String("clients", strings.Join(cfg.Clients, ","), "contenders, comma-separated: ebb, ebb-nolimit, retryablehttp, failsafe, failsafe-attempt")
		scenarios = fs.String("scenarios", strings.Join(cfg.Scenarios, ","), "scenarios, comma-separated: "+strings.Join(Scenarios, ", "))
		outages   = fs.String("outages", "5s,30s,5s:refuse", "outage scenarios: length[:refuse], comma-separated (refuse: connections refused; else 503 UNAVAILABLE)")
		scale     = fs.Float64("scale", 1, "multiply every span of the scenarios by this")
		replot    = fs.String("replot", "", "write the tables and charts again from this results.json, without running")
		quiet     = fs.Bool("q", false, "no line per run")
	)
	fs.IntVar(&cfg.Reps, "reps", cfg.Reps, "repetitions")
	fs.IntVar(&cfg.Slots, "slots", cfg.Slots, "the server's slots")
	fs.DurationVar(&cfg.Service, "service", cfg.Service, "the server's service time")
	fs.IntVar(&cfg.Goroutines, "goroutines", cfg.Goroutines, "goroutines of a client in the steady, outage and halve scenarios")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "context timeout of each logical request")
	fs.IntVar(&cfg.HotGoroutines, "hot-goroutines", cfg.HotGoroutines, "goroutines in the hot-partition scenario")
	fs.Float64Var(&cfg.HotShare, "hot-share", cfg.HotShare, "share of requests the hot partition refuses at random")
	fs.IntVar(&cfg.LoneRefusals, "lone-refusals", cfg.LoneRefusals, "refusals before the lone client's request is accepted")
	fs.IntVar(&cfg.FleetProcs, "fleet-procs", cfg.FleetProcs, "client processes in the fleet")
	fs.IntVar(&cfg.FleetGoroutines, "fleet-goroutines", cfg.FleetGoroutines, "goroutines per fleet process")
	fs.StringVar(&cfg.Out, "out", "dynamics", "directory for results.json, results.md and the charts")
	fs.StringVar(&cfg.Readme, "readme", "README.md", "Markdown file whose dynamics section gets the results (empty: none)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !*quiet {
		cfg.Log = stderr
	}
	if *replot != "" {
		rep, err := Read(*replot)
		if err == nil {
			err = rep.Write(cfg.Out)
		}
		if err == nil && cfg.Readme != "" {
			err = rep.UpdateReadme(cfg.Readme, cfg.Out)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	cfg.Clients = split(*clients)
	cfg.Scenarios = split(*scenarios)
	cfg.Outages = nil
	for _, o := range split(*outages) {
		length, mode, _ := strings.Cut(o, ":")
		d, err := time.ParseDuration(length)
		if err != nil {
			fmt.Fprintf(stderr, "dynamics: -outages %q: %v\n", o, err)
			return 2
		}
		if mode == "" {
			mode = "unavailable"
		}
		cfg.Outages = append(cfg.Outages, Outage{Length: d, Mode: mode})
	}
	cfg.Scale(*scale)
	cfg.Programs = Programs{Server: []string{"slotserver"}, Client: []string{"loadclient"}}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if cfg.Readme != "" {
		// Better to learn now than after the run.
		b, err := os.ReadFile(cfg.Readme)
		if err != nil || !strings.Contains(string(b), beginMarker) || !strings.Contains(string(b), endMarker) {
			fmt.Fprintf(stderr, "dynamics: -readme %s: no %s … %s section (or -readme '')\n", cfg.Readme, beginMarker, endMarker)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	programs, dir, err := Build(ctx, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cfg.Programs = programs
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprint(stdout, rep.Markdown(cfg.Out))
	return 0
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
