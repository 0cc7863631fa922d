package limiter

import (
	"net/http"
	"time"
)

// Law exposes the control law's numbers and switches to the tests in
// package limiter_test, which compare the alternatives the package doc
// cites. It mirrors params.
type Law struct {
	Floor, Initial, Decrease, Increase   float64
	Interval, UnlimitedAfter             time.Duration
	Accelerate, CapInFlight, EverySignal bool
	GrowOnTimer                          bool
	FloorPause, Shed                     bool
}

// NewWithLaw is New with the resolved law of s changed by tweak.
func NewWithLaw(next http.RoundTripper, s Settings, tweak func(*Law)) *Transport {
	t := New(next, s)
	p := &t.p
	l := Law{p.floor, p.initial, p.decrease, p.increase, p.interval, p.unlimitedAfter,
		p.accelerate, p.capInFlight, p.everySignal, p.growOnTimer, p.floorPause, p.shed}
	tweak(&l)
	p.floor, p.initial, p.decrease, p.increase = l.Floor, l.Initial, l.Decrease, l.Increase
	p.interval, p.unlimitedAfter = l.Interval, l.UnlimitedAfter
	p.accelerate, p.capInFlight, p.everySignal, p.growOnTimer = l.Accelerate, l.CapInFlight, l.EverySignal, l.GrowOnTimer
	p.floorPause, p.shed = l.FloorPause, l.Shed
	return t
}
