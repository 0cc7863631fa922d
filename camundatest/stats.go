package camundatest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// RouteStats counts what became of the requests on one route.
type RouteStats struct {
	// Requests is every request received on the route, whatever became of
	// it.
	Requests int64
	// Accepted counts the requests the emulated API handled, whatever its
	// answer: a 404 for an unknown job is accepted, a refusal below is not.
	Accepted int64
	// Backpressure counts the requests refused for capacity.
	Backpressure int64
	// OutOfDisk counts the requests refused because the broker's disk was
	// full.
	OutOfDisk int64
	// Faults counts the requests answered with an injected 502, 503 or
	// 504.
	Faults int64
	// Resets counts the connections reset during a Reset outage.
	Resets int64
	// Forced counts the requests answered with a status forced by
	// Gateway.Force.
	Forced int64
}

// Rejected is the number of requests the gateway refused or failed on
// purpose: backpressure, out of disk, faults, resets and forced answers.
func (s RouteStats) Rejected() int64 {
	return s.Backpressure + s.OutOfDisk + s.Faults + s.Resets + s.Forced
}

// Stats is a snapshot of the gateway's counters.
type Stats struct {
	// Routes holds the counters of each route by template, such as
	// /v2/jobs/activation; requests on routes the gateway does not know are
	// counted under "other". Routes without requests are absent.
	Routes map[string]RouteStats

	// InstancesCreated counts the process instances created.
	InstancesCreated int64
	// JobsCreated counts the jobs created, one per instance.
	JobsCreated int64
	// JobsActivated counts activations: a job activated again after its
	// lock lapsed or after a failure counts again.
	JobsActivated int64
	// JobsCompleted counts the jobs completed.
	JobsCompleted int64
	// JobsFailed counts the failures reported, with or without retries left.
	JobsFailed int64
	// JobsErrored counts the BPMN errors thrown.
	JobsErrored int64
	// Incidents counts the jobs failed with no retries left.
	Incidents int64
	// JobsOpen is the number of jobs waiting for a worker's answer: neither
	// completed, nor errored, nor in an incident.
	JobsOpen int

	// MaxInFlight is the most requests that were in service at once among
	// those Capacity binds.
	MaxInFlight int
}

// Total adds up the counters of every route.
func (s Stats) Total() RouteStats {
	var t RouteStats
	for _, r := range s.Routes {
		t.Requests += r.Requests
		t.Accepted += r.Accepted
		t.Backpressure += r.Backpressure
		t.OutOfDisk += r.OutOfDisk
		t.Faults += r.Faults
		t.Resets += r.Resets
		t.Forced += r.Forced
	}
	return t
}

// Stats returns a snapshot of the gateway's counters.
func (g *Gateway) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := Stats{
		Routes:           make(map[string]RouteStats, len(g.routes)),
		InstancesCreated: g.eng.counts.instances,
		JobsCreated:      g.eng.counts.created,
		JobsActivated:    g.eng.counts.activated,
		JobsCompleted:    g.eng.counts.completed,
		JobsFailed:       g.eng.counts.failed,
		JobsErrored:      g.eng.counts.errored,
		Incidents:        g.eng.counts.incidents,
		JobsOpen:         g.eng.open(),
		MaxInFlight:      g.maxInFlight,
	}
	for k, v := range g.routes {
		s.Routes[k] = *v
	}
	return s
}

// BodyHashes returns the SHA-256 of each request body received on route (a
// template such as /v2/jobs/{jobKey}/completion), hex-encoded, in the order
// the bodies arrived, refused requests included; an empty body hashes as
// e3b0c442.... It returns nil unless the gateway was built WithBodyHashes.
func (g *Gateway) BodyHashes(route string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.hashes[route])
}

// routeStatsLocked returns the counters of route, creating them.
func (g *Gateway) routeStatsLocked(route string) *RouteStats {
	s := g.routes[route]
	if s == nil {
		s = new(RouteStats)
		g.routes[route] = s
	}
	return s
}

// sortedRoutes lists the templates of s in order, for printing.
func sortedRoutes(s Stats) []string {
	return slices.Sorted(maps.Keys(s.Routes))
}

// String formats the snapshot for people: the job counters on one line, then
// one line per route.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "instances %d; jobs created %d, activated %d, completed %d, failed %d, errored %d, incidents %d, open %d; max in flight %d",
		s.InstancesCreated, s.JobsCreated, s.JobsActivated, s.JobsCompleted, s.JobsFailed, s.JobsErrored, s.Incidents, s.JobsOpen, s.MaxInFlight)
	for _, route := range sortedRoutes(s) {
		r := s.Routes[route]
		fmt.Fprintf(&b, "\n%s: requests %d, accepted %d, backpressure %d, out of disk %d, faults %d, resets %d",
			route, r.Requests, r.Accepted, r.Backpressure, r.OutOfDisk, r.Faults, r.Resets)
		if r.Forced > 0 {
			fmt.Fprintf(&b, ", forced %d", r.Forced)
		}
	}
	return b.String()
}
