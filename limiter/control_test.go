package limiter

import (
	"testing"
	"time"
)

// These tests drive the control law directly, where a scenario through the
// transport would need a fleet to set up the state they check.

// accept answers a probe in flight at the known level plus one until the
// host has accepted it for half a round, with waiting attempts queued.
func accept(c *control, now time.Time, waiting int) {
	for range 64 {
		known := c.known
		c.healthy(now, 0, c.epoch, int(known)+1, waiting)
		if c.known != known {
			return
		}
	}
}

// An accepted probe is followed at once by the next (the chain), except
// while room is contested (a displacement within the last 2s) and the
// client waits no longer than the reference backlog; frequent refusals
// within the known level, as a hot partition's, do not count as contest.
func TestChainGate(t *testing.T) {
	p := Settings{}.withDefaults().params()
	now := time.Unix(1000, 0)
	never := time.Time{}
	for _, tc := range []struct {
		name      string
		displaced time.Time
		bg        float64
		waiting   int // the new known level is 11: 77 is the reference
		chain     bool
	}{
		{"never displaced: idle room", never, 0, 70, true},
		{"displaced 1s ago", now.Add(-time.Second), 0, 70, false},
		{"displaced 1s ago, at the reference", now.Add(-time.Second), 0, 77, false},
		{"displaced 1s ago, squeezed", now.Add(-time.Second), 0, 78, true},
		{"displaced 3s ago", now.Add(-3 * time.Second), 0, 70, true},
		{"displaced 1s ago, frequent refusals", now.Add(-time.Second), bgMax / 4, 70, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newControl(&p)
			c.limit, c.known = 11, 10
			c.displacedAt, c.bg = tc.displaced, tc.bg
			accept(&c, now, tc.waiting)
			want := 11.0
			if tc.chain {
				want = 12
			}
			if c.known != 11 || c.limit != want {
				t.Errorf("known %v, limit %v after the accepted probe; want 11, %v", c.known, c.limit, want)
			}
		})
	}
}

// A client with a long backlog probes at up to 32 times Increase while its
// probes are accepted, at 4 times once the host refuses them, and at 32
// again once it accepts them again.
func TestPaceBound(t *testing.T) {
	p := Settings{}.withDefaults().params()
	now := time.Unix(1000, 0)
	c := newControl(&p)
	c.limit, c.known = 2, 2
	// 200 waiting for 2 permits: far beyond the backlog where the pace
	// reaches its bound.
	step := func() float64 {
		before := c.limit
		c.healthy(now, 0, c.epoch, 2, 200)
		return (c.limit - before) * before / p.increase
	}
	if got := step(); got < 31.9 || got > 32 {
		t.Errorf("pace %.2f with no probe refused, want 32", got)
	}
	for range 40 {
		c.limit = 2.5
		c.backpressure(now, c.epoch, 3)
	}
	if c.limit != 2 {
		t.Fatalf("limit %v after refused probes, want 2", c.limit)
	}
	if got := step(); got < 4 || got > 4.2 {
		t.Errorf("pace %.2f after 40 refused probes, want 4", got)
	}
	// Capacity comes back: probes are accepted again, and the bound climbs
	// back with them.
	for range 40 {
		accept(&c, now, 200)
	}
	c.limit, c.known = 2, 2
	if got := step(); got < 31 || got > 32 {
		t.Errorf("pace %.2f after 40 accepted probes, want 32 again", got)
	}
}
