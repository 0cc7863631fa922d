package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ebb-go/ebb/camundatest"
	"github.com/prometheus/client_golang/prometheus"
)

// summary is what a run did, from the worker's counters, ebb's metrics and
// the emulated gateway's own counters.
type summary struct {
	config      config
	address     string
	started     time.Time
	elapsed     time.Duration
	interrupted bool
	metricsAddr string

	worker   *worker
	loader   *loader              // nil against a real cluster
	gateway  *camundatest.Gateway // nil against a real cluster
	registry *prometheus.Registry
}

// transportCounts are the totals of ebb's metrics.
type transportCounts struct {
	requests, attempts, backpressure, retries float64
	canceledAttempts                          float64            // attempts cut short by the caller, as at shutdown
	outcomes                                  map[string]float64 // requests by outcome
	reasons                                   map[string]float64 // retries by reason
}

// finalFailures counts the logical requests that ended on a failure verdict
// after their retries, or were refused by a layer of ebb.
func (t transportCounts) finalFailures() float64 {
	var n float64
	for _, o := range []string{"backpressure", "unavailable", "server_error", "transport_error", "refused"} {
		n += t.outcomes[o]
	}
	return n
}

func (s *summary) transport() (transportCounts, error) {
	t := transportCounts{outcomes: map[string]float64{}, reasons: map[string]float64{}}
	families, err := s.registry.Gather()
	if err != nil {
		return t, err
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			v := m.GetCounter().GetValue()
			label := func(name string) string {
				for _, l := range m.GetLabel() {
					if l.GetName() == name {
						return l.GetValue()
					}
				}
				return ""
			}
			switch f.GetName() {
			case "ebb_requests_total":
				t.requests += v
				t.outcomes[label("outcome")] += v
			case "ebb_attempts_total":
				t.attempts += v
				if label("verdict") == "canceled" {
					t.canceledAttempts += v
				}
			case "ebb_backpressure_total":
				t.backpressure += v
			case "ebb_retries_total":
				t.retries += v
				t.reasons[label("reason")] += v
			}
		}
	}
	return t, nil
}

func (s *summary) print(out io.Writer) {
	w := s.worker
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	where := s.address
	if s.gateway != nil {
		c := s.config
		where = fmt.Sprintf("the emulated Camunda %s gateway at %s (%d slots x %v: about %.0f requests/s)",
			c.version, s.address, c.slots, c.serviceTime, float64(c.slots)/c.serviceTime.Seconds())
	}
	how := "ran"
	if s.interrupted {
		how = "interrupted after"
	}
	p("ebb worker demo: %s %.1fs against %s", how, s.elapsed.Seconds(), where)
	p("")
	handled := w.completed.Load() + w.errored.Load() + w.failed.Load() + w.lost.Load()
	p("jobs       activated %d, handled %d: completed %d, BPMN error %d, failed %d, lost %d",
		w.activated.Load(), handled, w.completed.Load(), w.errored.Load(), w.failed.Load(), w.lost.Load())
	p("polls      %d (empty %d, failed after retries %d)", w.polls.Load(), w.emptyPolls.Load(), w.pollErrors.Load())
	if s.loader != nil {
		p("load       process instances created %d (failed after retries %d)", s.loader.created.Load(), s.loader.failed.Load())
	}

	t, err := s.transport()
	if err != nil {
		p("transport  metrics unreadable: %v", err)
	} else {
		p("")
		p("transport (ebb's metrics)")
		p("  requests        %.0f  by outcome: %s", t.requests, counts(t.outcomes))
		p("  attempts        %.0f  (%.2f per request)", t.attempts, safeDiv(t.attempts, t.requests))
		p("  backpressure    %.0f  (%.1f%% of attempts)", t.backpressure, 100*safeDiv(t.backpressure, t.attempts))
		p("  retries         %.0f  by reason: %s", t.retries, counts(t.reasons))
		p("  final failures  %.0f  (%.2f%% of requests)", t.finalFailures(), 100*safeDiv(t.finalFailures(), t.requests))
	}

	if s.gateway != nil {
		g := s.gateway.Stats()
		p("")
		p("gateway (its own counters)")
		p("  instances created %d; jobs created %d, activated %d, completed %d, BPMN errors %d, failed %d, incidents %d",
			g.InstancesCreated, g.JobsCreated, g.JobsActivated, g.JobsCompleted, g.JobsErrored, g.JobsFailed, g.Incidents)
		for _, route := range slices.Sorted(maps.Keys(g.Routes)) {
			r := g.Routes[route]
			p("  %-30s requests %6d  accepted %6d  backpressure %6d", route, r.Requests, r.Accepted, r.Backpressure)
		}
	}
	if s.metricsAddr != "" {
		p("")
		p("metrics were served on http://%s/metrics while the worker ran", s.metricsAddr)
	}
}

func counts(m map[string]float64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
