package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ebb-go/ebb/camundatest"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/transport"
	"github.com/prometheus/client_golang/prometheus"
)

// summary is what a run did, from the demo's own counters, ebb's metrics,
// the chain's snapshot and the emulated gateway's own counters.
type summary struct {
	config         config
	address        string
	gatewayVersion string // as the cluster's topology reports it
	started        time.Time
	elapsed        time.Duration
	interrupted    bool
	metricsAddr    string

	topology tally
	worker   *worker
	loader   *loader // nil when the demo creates no load
	fails    *failures
	progress *progress

	gateway *camundatest.Gateway // nil against a real cluster
	version camundatest.Version  // the emulated release

	chain     *transport.Transport
	final     transport.Snapshot // at the end of the run
	registry  *prometheus.Registry
	namespace string // of the metric names
}

// requests adds up the demo's requests, by how they ended.
func (s *summary) requests() (ok, failed, cut int64) {
	tallies := []*tally{&s.topology, &s.worker.polls, &s.worker.answers}
	if s.loader != nil {
		tallies = append(tallies, &s.loader.creates)
	}
	for _, t := range tallies {
		ok += t.ok.Load()
		failed += t.failed.Load()
		cut += t.cut.Load()
	}
	return ok, failed, cut
}

// failed reports whether the run failed, and why: when requests failed
// and none succeeded (the topology asked before the run aside), or when
// more than -max-failed of the requests that ended failed after ebb's
// retries. Requests cut short by the demo's own stop did not end: a run too
// short for any request to end has not failed.
func (s *summary) failed() (bool, string) {
	ok, failed, _ := s.requests()
	ok-- // the topology, asked before the run
	switch {
	case failed == 0:
		return false, ""
	case ok == 0:
		return true, fmt.Sprintf("none of the worker's requests succeeded (%d failed)", failed)
	case float64(failed) > s.config.maxFailed*float64(ok+failed):
		return true, fmt.Sprintf("%d of %d requests failed (%.2f%%), more than -max-failed %g%%",
			failed, ok+failed, 100*float64(failed)/float64(ok+failed), 100*s.config.maxFailed)
	}
	return false, ""
}

// answers says how an emulated release answers, in a few words: how it
// writes keys when that differs from 8.8 on, and, when it pushes back at
// all, how.
func answers(v camundatest.Version, pushesBack bool) string {
	var parts []string
	if v == camundatest.V86 || v == camundatest.V87 {
		parts = append(parts, "keys as JSON numbers")
	}
	switch {
	case !pushesBack:
	case v == camundatest.V86 || v == camundatest.V87:
		parts = append(parts, "backpressure answered 429")
	case v == camundatest.V880:
		parts = append(parts, "backpressure answered 503, and 500 with RESOURCE_EXHAUSTED in the detail on job activation")
	default:
		parts = append(parts, "backpressure answered 503 RESOURCE_EXHAUSTED")
	}
	return strings.Join(parts, ", ")
}

func (s *summary) print(out io.Writer) {
	w := s.worker
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	how := "ran"
	if s.interrupted {
		how = "interrupted after"
	}
	if s.gateway != nil {
		c := s.config
		p("ebb worker demo: %s %.1fs against the emulated Camunda %s gateway at %s", how, s.elapsed.Seconds(), s.version, s.address)
		capacity := "unbounded capacity: it never pushes back"
		if c.slots > 0 {
			capacity = fmt.Sprintf("%d slots x %v", c.slots, c.serviceTime)
			if c.serviceTime > 0 {
				capacity += fmt.Sprintf(", about %.0f requests/s", float64(c.slots)/c.serviceTime.Seconds())
			}
		}
		if a := answers(s.version, c.slots > 0); a != "" {
			capacity += "; " + a
		}
		p("                 %s", capacity)
	} else {
		version := ""
		if s.gatewayVersion != "" {
			version = "Camunda " + s.gatewayVersion + " "
		}
		p("ebb worker demo: %s %.1fs against the %scluster at %s", how, s.elapsed.Seconds(), version, redact(s.address))
	}
	p("")
	p("jobs       activated %d, handled %d: completed %d, BPMN error %d, failed %d; not answered %d",
		w.activated.Load(), w.handled(), w.completed.Load(), w.errored.Load(), w.failed.Load(), w.lost.Load())
	p("polls      %d answered (%d with no job), %d failed, %d cut short at shutdown",
		w.polls.ok.Load(), w.emptyPolls.Load(), w.polls.failed.Load(), w.polls.cut.Load())
	if l := s.loader; l != nil {
		p("creations  %d process instances created, %d failed, %d cut short at shutdown",
			l.creates.ok.Load(), l.creates.failed.Load(), l.creates.cut.Load())
	}
	ok, failed, cut := s.requests()
	p("requests   %d sent by the demo: %d succeeded, %d failed after ebb's retries, %d cut short at shutdown",
		ok+failed+cut, ok, failed, cut)
	if cut > 0 {
		p("           (cut short: the demo stopped them when its time was up; ebb counts them as \"canceled\", and they are no failure)")
	}
	for _, c := range s.fails.byCause() {
		p("           failed: %d %s", c.n, c.cause)
	}

	p("")
	if err := s.printTransport(p); err != nil {
		p("transport  metrics unreadable: %v", err)
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

	p("")
	if bad, why := s.failed(); bad {
		p("result     FAILED: %s", why)
	} else if ended := ok - 1 + failed; ended == 0 {
		p("result     nothing to judge: every request was cut short when the time was up (-duration %v)", s.config.duration)
	} else {
		p("result     succeeded: %d of %d requests failed (the topology asked first aside; %.2f%%; the run fails above -max-failed %g%%)",
			failed, ended, 100*safeDiv(float64(failed), float64(ended)), 100*s.config.maxFailed)
	}
	if s.metricsAddr != "" {
		p("metrics    were served on http://%s/metrics while the worker ran", s.metricsAddr)
	}
}

// printTransport prints what ebb's metrics and the chain's snapshot say.
func (s *summary) printTransport(p func(string, ...any)) error {
	m, err := readMetrics(s.registry, s.namespace)
	if err != nil {
		return err
	}
	attempts, requests := m.sum("attempts_total"), m.sum("requests_total")
	backpressure := m.sum("backpressure_total")
	p("transport (ebb's metrics and the chain's snapshot)")
	p("  attempts      %.0f for %.0f requests (%.2f per request)", attempts, requests, safeDiv(attempts, requests))
	p("  backpressure  %.0f answers (%.1f%% of attempts); retries %.0f: %s",
		backpressure, 100*safeDiv(backpressure, attempts), m.sum("retries_total"), counts(m.by("retries_total", "reason")))

	settings := s.final.Settings
	var host transport.HostSnapshot
	for _, h := range s.final.Hosts {
		if h.Host == hostOf(s.address) {
			host = h
		}
	}
	waits, waited := m.histogram("limiter_wait_seconds")
	queueFull := m.sum("limiter_rejections_total")
	switch settings.Limiter.Profile {
	case limiter.Off:
		p("  limiter       off")
	default:
		limit := "no limit set: it stays out of the way until the first backpressure"
		if host.Limiter.Limit != limiter.Unlimited {
			limit = fmt.Sprintf("limit %d at the end", host.Limiter.Limit)
			if lo, hi := s.progress.limitRange(); lo > 0 && lo != hi {
				limit += fmt.Sprintf(", %d to %d over the run", lo, hi)
			}
		}
		if settings.Limiter.Profile == limiter.Observe {
			limit += " (observe: it never holds an attempt back)"
		}
		p("  limiter       %s profile, %s", settings.Limiter.Profile, limit)
		waitedFor := "no attempt waited for a permit"
		if waits > 0 {
			mean := time.Duration(waited / float64(waits) * float64(time.Second))
			waitedFor = fmt.Sprintf("%d attempts waited for a permit, %v on average", waits, mean.Round(10*time.Microsecond))
		}
		p("                %s; %.0f refused with its queue full (nothing sent)", waitedFor, queueFull)
	}

	if settings.Breaker.Disabled {
		p("  breaker       off")
		return nil
	}
	transitions := m.series("breaker_transitions_total")
	refused := m.sum("breaker_rejections_total")
	if len(transitions) == 0 {
		p("  breaker       stayed closed, refusing nothing")
		return nil
	}
	var parts []string
	for _, t := range transitions {
		parts = append(parts, fmt.Sprintf("%s → %s %.0f", t.labels["from"], t.labels["to"], t.value))
	}
	slices.Sort(parts)
	p("  breaker       %s at the end; transitions: %s", host.Breaker.State, strings.Join(parts, ", "))
	p("                %.0f requests refused by the open breaker (nothing sent; ebb counts them as \"refused\")", refused)
	return nil
}

// metricSeries is one series of a metric family, flattened.
type metricSeries struct {
	labels map[string]string
	gauge  bool
	value  float64 // a counter's or gauge's
	count  uint64  // a histogram's
	sum    float64 // a histogram's
}

// metricFamilies maps a family's name, without the namespace, to its series.
type metricFamilies map[string][]metricSeries

// readMetrics gathers g and keeps the families named with the namespace.
func readMetrics(g prometheus.Gatherer, namespace string) (metricFamilies, error) {
	families, err := g.Gather()
	if err != nil {
		return nil, err
	}
	out := metricFamilies{}
	for _, f := range families {
		name, ok := strings.CutPrefix(f.GetName(), namespace+"_")
		if !ok {
			continue
		}
		for _, m := range f.GetMetric() {
			s := metricSeries{labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				s.value = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				s.value, s.gauge = m.GetGauge().GetValue(), true
			case m.GetHistogram() != nil:
				s.count, s.sum = m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
			}
			out[name] = append(out[name], s)
		}
	}
	return out, nil
}

func (m metricFamilies) series(name string) []metricSeries { return m[name] }

// sum adds up the values of a family's series.
func (m metricFamilies) sum(name string) float64 {
	var v float64
	for _, s := range m[name] {
		v += s.value
	}
	return v
}

// by adds up a family's values per value of one label.
func (m metricFamilies) by(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m[name] {
		out[s.labels[label]] += s.value
	}
	return out
}

// histogram adds up a histogram family's counts and sums.
func (m metricFamilies) histogram(name string) (count uint64, sum float64) {
	for _, s := range m[name] {
		count += s.count
		sum += s.sum
	}
	return count, sum
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
