package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/transport"
)

func TestProgressLine(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	host := func(limit, inFlight, waiting int, b breaker.State) transport.HostSnapshot {
		return transport.HostSnapshot{
			Host:    "127.0.0.1:8080",
			Limiter: limiter.HostStats{Limit: limit, InFlight: inFlight, Waiting: waiting},
			Breaker: breaker.HostStats{State: b},
		}
	}
	for _, tt := range []struct {
		name      string
		prev, cur sample
		creating  bool
		want      string
	}{
		{
			name:     "overloaded",
			prev:     sample{at: at(1), jobs: 100, creations: 120, backpressure: 10},
			cur:      sample{at: at(2), jobs: 450, creations: 480, backpressure: 22, host: host(4, 4, 12, breaker.Closed)},
			creating: true,
			want:     "   2s  jobs  350/s  creations  360/s  backpressure  12/s  limit 4 (in flight 4, waiting 12)  breaker closed",
		},
		{
			name: "half a second, no load of its own",
			prev: sample{at: at(0), jobs: 0},
			cur:  sample{at: at(0.5), jobs: 50, host: host(0, 3, 0, breaker.Closed)},
			want: "   0s  jobs  100/s  backpressure   0/s  limit none (in flight 3)  breaker closed",
		},
		{
			name: "open breaker",
			prev: sample{at: at(4)},
			cur:  sample{at: at(5), host: host(2, 0, 0, breaker.Open)},
			want: "   5s  jobs    0/s  backpressure   0/s  limit 2 (in flight 0, waiting 0)  breaker open",
		},
		{
			name: "layers off",
			prev: sample{at: at(4)},
			cur:  sample{at: at(5), limiterOff: true, breakerOff: true},
			want: "   5s  jobs    0/s  backpressure   0/s  limiter off  breaker off",
		},
	} {
		if got := progressLine(tt.prev, tt.cur, t0, tt.creating); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// TestProgressTicks drives the progress line with ticks of its own: one
// line per tick, from the run's counters and the chain's snapshot, and the
// limit's range kept for the summary.
func TestProgressTicks(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := shortConfig()
	c.duration = time.Minute
	var out testkit.Output
	c.progress = &out
	ticks := make(chan time.Time)
	c.ticks = ticks
	c.ready = func(s *summary) {
		go func() {
			defer cancel()
			// Two ticks once backpressure has set a limit, then stop.
			for limit(s) == 0 {
				if ctx.Err() != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
			for range 2 {
				ticks <- time.Now()
			}
		}()
	}
	sum, err := run(ctx, c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	re := regexp.MustCompile(`^ +\d+s  jobs +\d+/s  creations +\d+/s  backpressure +\d+/s  limit \d+ \(in flight \d+, waiting \d+\)  breaker closed$`)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		if !re.MatchString(l) {
			t.Errorf("line %q", l)
		}
	}
	if lo, hi := sum.progress.limitRange(); lo == 0 || hi < lo {
		t.Errorf("limit range %d to %d", lo, hi)
	}
}

// limit is the limiter's limit for the run's cluster, 0 while none is set.
func limit(s *summary) int {
	for _, h := range s.chain.Snapshot().Hosts {
		if h.Host == hostOf(s.address) {
			return h.Limiter.Limit
		}
	}
	return 0
}

func TestProgressTo(t *testing.T) {
	pipeR, pipeW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pipeR.Close()
	defer pipeW.Close()
	file, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	yes := func(io.Writer) bool { return true }
	var buf bytes.Buffer
	for _, tt := range []struct {
		name     string
		w        io.Writer
		quiet    bool
		terminal func(io.Writer) bool
		want     bool
	}{
		{"terminal", &buf, false, yes, true},
		{"terminal, -quiet", &buf, true, yes, false},
		{"pipe", pipeW, false, isTerminal, false},
		{"file", file, false, isTerminal, false},
		{"buffer", &buf, false, isTerminal, false},
	} {
		if got := progressTo(tt.w, tt.quiet, tt.terminal) != nil; got != tt.want {
			t.Errorf("%s: progress %v, want %v", tt.name, got, tt.want)
		}
	}
}

// hostOf names a host as the chain's snapshot does, whatever the case and
// whether the port is given.
func TestHostOf(t *testing.T) {
	for give, want := range map[string]string{
		"http://LocalHost:8080":     "localhost:8080",
		"http://gw.example":         "gw.example:80",
		"https://GW.example/v2":     "gw.example:443",
		"http://[::1]:26500/zeebe/": "[::1]:26500",
	} {
		if got := hostOf(give); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", give, got, want)
		}
	}
}
