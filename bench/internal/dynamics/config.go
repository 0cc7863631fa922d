package dynamics

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ebb-go/ebb/bench/internal/contender"
)

// The scenarios, in the order a repetition runs them.
const (
	ScenarioSteady = "steady"
	ScenarioHot    = "hot"
	ScenarioLone   = "lone"
	ScenarioHalve  = "halve"
	ScenarioOutage = "outage"
	ScenarioFleet  = "fleet"
)

// Scenarios lists every scenario, in the order a repetition runs them.
var Scenarios = []string{ScenarioSteady, ScenarioHot, ScenarioLone, ScenarioHalve, ScenarioOutage, ScenarioFleet}

// Phase is a warm-up followed by a measured span.
type Phase struct {
	Warm, Measure time.Duration
}

// Outage is one outage scenario: how long the server is out, and how.
type Outage struct {
	Length time.Duration
	// Mode is "unavailable" (every request answered at once with 503
	// UNAVAILABLE) or "refuse" (connections refused).
	Mode string
}

// Name is the outage's scenario name, as "outage-5s" or
// "outage-5s-refuse".
func (o Outage) Name() string {
	n := "outage-" + o.Length.String()
	if o.Mode == "refuse" {
		n += "-refuse"
	}
	return n
}

// Programs are the command lines of the server and of the client, to which
// the driver appends flags, and extra environment for both.
type Programs struct {
	Server, Client []string
	Env            []string
}

// Config is one run of the harness. Default returns the documented one.
type Config struct {
	// Reps is the number of repetitions.
	Reps int
	// Clients are the contenders' keys (package contender). The outage
	// scenarios add the client without retries as their reference.
	Clients []string
	// Scenarios are the scenarios to run, from Scenarios.
	Scenarios []string

	// Slots and Service are the server's.
	Slots   int
	Service time.Duration
	// Goroutines is the size of a client in the steady, outage and
	// halve-and-restore scenarios.
	Goroutines int
	// Timeout bounds each logical request.
	Timeout time.Duration
	// Lead is the time between launching a scenario's processes and its
	// T0, for them to start.
	Lead time.Duration

	// Probe measures the capacity: a client without retries keeping
	// exactly Slots requests in flight.
	Probe Phase
	// Steady is the steady overload.
	Steady Phase
	// Hot is the hot partition: HotGoroutines against a server refusing
	// HotShare of the requests at random.
	Hot           Phase
	HotGoroutines int
	HotShare      float64
	// LoneRefusals is how many times the server refuses the lone
	// client's one request before it accepts it.
	LoneRefusals int
	// Halve: a steady span, then the slots halved for Halved, then
	// restored for Post.
	HalvePre, Halved, HalvePost time.Duration
	// Outages are the outage scenarios; each runs OutagePre of steady
	// overload, the outage, then OutagePost.
	Outages               []Outage
	OutagePre, OutagePost time.Duration
	// Fleet: FleetProcs processes of FleetGoroutines each. In the
	// staggered variant one runs alone for FleetAlone before the others
	// join; in both, figures cover Measure after Warm from the last join.
	FleetProcs, FleetGoroutines int
	FleetAlone                  time.Duration
	Fleet                       Phase

	// Out is the directory results.json, results.md and the charts are
	// written to; empty means none.
	Out string
	// Readme is a Markdown file whose section between
	// "<!-- dynamics:begin -->" and "<!-- dynamics:end -->" gets the
	// results; empty means none.
	Readme string
	// Programs run the server and the clients.
	Programs Programs
	// Log gets a line per run.
	Log io.Writer
}

// Default is the documented run: 5 repetitions of every scenario with
// ebb, ebb without its limiter, go-retryablehttp and failsafe-go against
// 32 slots of 10ms, 256 goroutines, 10s per request.
func Default() Config {
	return Config{
		Reps:            5,
		Clients:         []string{contender.KeyEbb, contender.KeyEbbNoLimiter, contender.KeyRetryableHTTP, contender.KeyFailsafe},
		Scenarios:       slices.Clone(Scenarios),
		Slots:           32,
		Service:         10 * time.Millisecond,
		Goroutines:      256,
		Timeout:         10 * time.Second,
		Lead:            500 * time.Millisecond,
		Probe:           Phase{Warm: time.Second, Measure: 4 * time.Second},
		Steady:          Phase{Warm: 4 * time.Second, Measure: 8 * time.Second},
		Hot:             Phase{Warm: 3 * time.Second, Measure: 8 * time.Second},
		HotGoroutines:   48,
		HotShare:        0.25,
		LoneRefusals:    3,
		HalvePre:        5 * time.Second,
		Halved:          5 * time.Second,
		HalvePost:       5 * time.Second,
		Outages:         []Outage{{5 * time.Second, "unavailable"}, {30 * time.Second, "unavailable"}, {5 * time.Second, "refuse"}},
		OutagePre:       5 * time.Second,
		OutagePost:      12 * time.Second,
		FleetProcs:      4,
		FleetGoroutines: 64,
		FleetAlone:      10 * time.Second,
		Fleet:           Phase{Warm: 5 * time.Second, Measure: 7 * time.Second},
	}
}

// Scale multiplies every span of the scenarios by f (not the service
// time, the request timeout or the lead), for a quicker or a longer look.
func (c *Config) Scale(f float64) {
	s := func(d *time.Duration) { *d = time.Duration(float64(*d) * f) }
	for _, p := range []*Phase{&c.Probe, &c.Steady, &c.Hot, &c.Fleet} {
		s(&p.Warm)
		s(&p.Measure)
	}
	for _, d := range []*time.Duration{&c.HalvePre, &c.Halved, &c.HalvePost, &c.OutagePre, &c.OutagePost, &c.FleetAlone} {
		s(d)
	}
	for i := range c.Outages {
		s(&c.Outages[i].Length)
	}
}

// Validate reports the first setting that cannot run.
func (c Config) Validate() error {
	if c.Reps < 1 {
		return fmt.Errorf("dynamics: %d repetitions", c.Reps)
	}
	if len(c.Clients) == 0 {
		return fmt.Errorf("dynamics: no client")
	}
	for _, k := range c.Clients {
		if _, err := contender.Lookup(k); err != nil {
			return err
		}
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return fmt.Errorf("dynamics: unknown scenario %q (want some of %v)", s, Scenarios)
		}
	}
	for _, o := range c.Outages {
		if o.Mode != "unavailable" && o.Mode != "refuse" {
			return fmt.Errorf("dynamics: outage mode %q (want unavailable or refuse)", o.Mode)
		}
		if o.Length <= 0 {
			return fmt.Errorf("dynamics: outage of %v", o.Length)
		}
	}
	if c.Slots < 2 || c.Service <= 0 || c.Goroutines < 1 || c.HotGoroutines < 1 || c.FleetProcs < 1 || c.FleetGoroutines < 1 {
		return fmt.Errorf("dynamics: sizes must be positive (slots at least 2)")
	}
	if c.HotShare < 0 || c.HotShare > 1 {
		return fmt.Errorf("dynamics: hot share %v not in [0, 1]", c.HotShare)
	}
	if c.OutagePre < 2*time.Duration(bucketMS)*time.Millisecond || c.HalvePre < 2*time.Duration(bucketMS)*time.Millisecond {
		return fmt.Errorf("dynamics: the spans before an outage or a halving must hold two 100ms buckets")
	}
	if c.Readme != "" && c.Out == "" {
		return fmt.Errorf("dynamics: a README to update needs an output directory for its charts")
	}
	if len(c.Programs.Server) == 0 || len(c.Programs.Client) == 0 {
		return fmt.Errorf("dynamics: no server or client program")
	}
	return nil
}

// Estimate is about how long the run takes, processes' start-up aside.
func (c Config) Estimate() time.Duration {
	n := func(clients int) time.Duration { return time.Duration(clients) }
	k := n(len(c.Clients))
	per := c.Lead + c.Probe.Warm + c.Probe.Measure
	for _, s := range c.Scenarios {
		switch s {
		case ScenarioSteady:
			per += k * (c.Lead + c.Steady.Warm + c.Steady.Measure)
		case ScenarioHot:
			per += k * (c.Lead + c.Hot.Warm + c.Hot.Measure)
		case ScenarioLone:
			per += k * (c.Lead + 2*time.Second)
		case ScenarioHalve:
			per += k * (c.Lead + c.HalvePre + c.Halved + c.HalvePost)
		case ScenarioOutage:
			for _, o := range c.Outages {
				per += (k + 1) * (c.Lead + c.OutagePre + o.Length + c.OutagePost)
			}
		case ScenarioFleet:
			per += k * (2*c.Lead + c.FleetAlone + 2*(c.Fleet.Warm+c.Fleet.Measure))
		}
	}
	return time.Duration(c.Reps) * per
}
