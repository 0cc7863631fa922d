package breaker

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

// model is the trip rules as the Settings document them, computed the slow
// way from the whole history of a closed breaker.
type model struct {
	s      Settings // with defaults
	events []event
}

type event struct {
	at time.Duration
	a  byte // S, F or X
}

// counts returns the successes and failures in the window at instant now,
// and the run of failures in it.
func (m *model) counts(now time.Duration) (requests, failures, run int) {
	b := int64(now / m.s.Bucket)
	in := func(at time.Duration) bool { return b-int64(at/m.s.Bucket) < m.s.buckets() }
	for _, e := range m.events {
		if !in(e.at) {
			continue
		}
		switch e.a {
		case 'S':
			requests++
			run = 0
		case 'F':
			requests++
			failures++
			run++
		}
	}
	return requests, failures, run
}

func (m *model) trips(now time.Duration) bool {
	n, f, run := m.counts(now)
	if m.s.ConsecutiveFailures > 0 && run >= m.s.ConsecutiveFailures {
		return true
	}
	return m.s.FailureRatio >= 0 && n >= m.s.MinRequests && float64(f) >= m.s.FailureRatio*float64(n)
}

// TestRulesModel drives random histories of outcomes, at random instants,
// through a breaker and checks after every request that the counts Stats
// reports and the moment the breaker trips are the model's.
func TestRulesModel(t *testing.T) {
	settings := []Settings{
		{},
		{ConsecutiveFailures: -1},
		{FailureRatio: -1, ConsecutiveFailures: 3},
		{FailureRatio: 0.3, MinRequests: 20, ConsecutiveFailures: 8},
		{Window: 3 * time.Second, Bucket: 500 * time.Millisecond, FailureRatio: 0.6, MinRequests: 5},
		{Window: 2500 * time.Millisecond, Bucket: time.Second, ConsecutiveFailures: 4, MinRequests: 3},
		{Window: time.Second, Bucket: time.Second, FailureRatio: 0.4},
	}
	gaps := []time.Duration{0, time.Millisecond, 40 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond, 2 * time.Second, 7 * time.Second}
	for i, s := range settings {
		for seed := range uint64(40) {
			t.Run(fmt.Sprintf("%d/%d", i, seed), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, uint64(i)))
				failShare := 0.1 + 0.6*r.Float64()
				synctest.Test(t, func(t *testing.T) {
					tr := New(lettered(), s)
					m := &model{s: tr.Settings()}
					start := time.Now()
					// Off the buckets' boundaries, where a success may
					// land on either side.
					time.Sleep(300 * time.Microsecond)
					for n := 0; n < 400; n++ {
						time.Sleep(gaps[r.IntN(len(gaps))])
						a := byte('S')
						switch x := r.Float64(); {
						case x < 0.05:
							a = 'X'
						case x < 0.05+failShare:
							a = 'F'
						}
						now := time.Since(start)
						if err := send(t, tr, request(t, gw, "/", string(a))); err != nil && a != 'X' && a != 'F' {
							t.Fatalf("request %d (%c) refused: %v", n, a, err)
						}
						m.events = append(m.events, event{now, a})
						tripped := a == 'F' && m.trips(now)
						got := stats(tr, gw)
						if tripped {
							if got.State != Open {
								t.Fatalf("request %d at %v: %v, want open; history %v", n, now, got, m.events)
							}
							return
						}
						req, fail, run := m.counts(now)
						want := HostStats{Host: gw, State: Closed, Requests: req, Failures: fail, ConsecutiveFailures: run}
						if got != want {
							t.Fatalf("request %d at %v (%c): %+v, want %+v", n, now, a, got, want)
						}
					}
				})
			})
		}
	}
}
