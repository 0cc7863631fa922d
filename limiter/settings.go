package limiter

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Settings configure a [Transport]. The zero value is the Balanced profile;
// every other zero field takes the profile's value, listed in the package
// doc.
type Settings struct {
	// Profile picks the preset the other fields override. Zero is Balanced.
	Profile Profile

	// Floor is the lowest the limit goes, in attempts per host. When
	// backpressure would take it lower, attempts beyond those still in
	// flight are held back for a while instead (see the package doc). 0
	// means 1.
	Floor int
	// Initial is the limit set by the first backpressure a host sends while
	// the limit is out of the way. 0 means the number of the host's other
	// attempts in flight at that moment — what the server was just seen to
	// accept — which needs no guess of the server's size.
	Initial int
	// Decrease is the factor of a decrease, in (0, 1). Backpressure to a
	// probe takes the limit to Decrease times itself or to the attempts
	// still in flight, whichever is lower; backpressure while fewer attempts
	// are in flight than the host last accepted takes it to Decrease times
	// those (see the package doc). At most one decrease per round of
	// attempts. 0 means the profile's: 0.9 (0.8 for Conservative, 0.95 for
	// Aggressive).
	Decrease float64
	// Increase is how fast healthy answers raise the limit while it is in
	// use, in permits per round of attempts (a round is as many answers as
	// the limit), in (0, 1]; more than a permit above the level the host
	// last accepted, growth turns exponential. It is also the pace at which
	// a client held at its floor tries again. 0 means the profile's: 0.05
	// (0.02 for Conservative, 0.1 for Aggressive).
	Increase float64
	// RecoveryInterval is the time without backpressure after which the
	// limit grows by one permit, and again after each further interval,
	// whatever the traffic, so that it cannot stall at its floor when few
	// answers come back. 0 means the profile's: 1s (2s for Conservative,
	// 500ms for Aggressive).
	RecoveryInterval time.Duration
	// UnlimitedAfter is how long a host must go without backpressure, with
	// its limit never reached, before the limit gets out of the way again.
	// 0 means the profile's: 30s (60s for Conservative, 10s for Aggressive);
	// a negative value means never.
	UnlimitedAfter time.Duration
	// MaxWaiters bounds the attempts waiting for a permit, per host; beyond
	// it an attempt fails at once with [ErrQueueFull]. 0 means 1024.
	MaxWaiters int
	// MaxHosts bounds the hosts whose state is kept; beyond it idle hosts
	// are forgotten, and if none is idle the new host's attempts pass
	// unlimited. 0 means 1024.
	MaxHosts int

	// Hooks receive the limiter's numbers, for metrics.
	Hooks Hooks
}

// Hooks are called with a host's label (host:port, as [verdict.Host.Label]
// gives it) when its numbers change. A nil hook costs nothing. Hooks are
// never called while the limiter holds a lock, so they may block briefly or
// call back into the limiter; the hooks of one host are never called
// concurrently with each other. OnLimit, OnInFlight and OnWaiting report the
// current value, coalesced: when values change faster than the hooks run,
// intermediate ones may be skipped, but the last value reported is always
// the last value taken.
type Hooks struct {
	// OnLimit receives the host's limit, in attempts, when it changes:
	// [Unlimited] while the limit is out of the way.
	OnLimit func(host string, limit int)
	// OnInFlight receives the number of the host's attempts holding a
	// permit. Drain operations are not counted.
	OnInFlight func(host string, n int)
	// OnWaiting receives the number of the host's attempts waiting for a
	// permit.
	OnWaiting func(host string, n int)
	// OnWait receives, for each attempt that had to wait for a permit, how
	// long it waited, whether it got a permit or its context ended.
	OnWait func(host string, d time.Duration)
	// OnReject is called for each attempt refused with [ErrQueueFull].
	OnReject func(host string)
}

// Unlimited is the limit [Hooks.OnLimit] reports while the limit is out of
// the way. A real limit is never below 1.
const Unlimited = 0

// ErrInvalidSettings is matched by every error [Settings.Validate] returns.
var ErrInvalidSettings = errors.New("limiter: invalid settings")

// Validate reports the first field of s that is out of range: an unknown
// profile, a negative count or interval, a decrease factor outside (0, 1),
// or an Initial below the Floor. [New] panics with its error.
func (s Settings) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSettings}, args...)...)
	}
	switch {
	case int(s.Profile) >= len(profileNames):
		return bad("unknown profile %v", s.Profile)
	case s.Floor < 0:
		return bad("Floor %d is negative", s.Floor)
	case s.Initial < 0:
		return bad("Initial %d is negative", s.Initial)
	case s.Initial > 0 && float64(s.Initial) < s.resolve().floor:
		return bad("Initial %d is below the floor %v", s.Initial, s.resolve().floor)
	case s.Decrease < 0 || s.Decrease >= 1 || math.IsNaN(s.Decrease):
		return bad("Decrease %v is not in (0, 1)", s.Decrease)
	case s.Increase < 0 || s.Increase > 1 || math.IsNaN(s.Increase):
		return bad("Increase %v is not in (0, 1]", s.Increase)
	case s.RecoveryInterval < 0:
		return bad("RecoveryInterval %v is negative", s.RecoveryInterval)
	case s.MaxWaiters < 0:
		return bad("MaxWaiters %d is negative", s.MaxWaiters)
	case s.MaxHosts < 0:
		return bad("MaxHosts %d is negative", s.MaxHosts)
	}
	return nil
}

// params are the numbers the control law runs on, resolved from Settings.
// The fields after the first block are not settings: they let the tests
// run the alternatives the package doc compares.
type params struct {
	floor, initial float64
	decrease       float64
	increase       float64
	interval       time.Duration
	unlimitedAfter time.Duration // negative: never
	maxWaiters     int
	maxHosts       int

	accelerate  bool // the probe speeds up above that level
	capInFlight bool // a decrease takes the limit to at most the attempts in flight
	everySignal bool // every backpressure counts, not one per round
	growOnTimer bool // RecoveryInterval adds permits
	floorPause  bool // backpressure at the floor holds new attempts back
	shed        bool // room taken by another client sheds a share
}

func (s Settings) resolve() params {
	p := params{
		floor:          1,
		decrease:       0.9,
		increase:       0.05,
		interval:       time.Second,
		unlimitedAfter: 30 * time.Second,
		maxWaiters:     1024,
		maxHosts:       1024,
		accelerate:     true,
		capInFlight:    true,
		growOnTimer:    true,
		floorPause:     true,
		shed:           true,
	}
	switch s.Profile {
	case Conservative:
		p.decrease, p.increase = 0.8, 0.02
		p.interval, p.unlimitedAfter = 2*time.Second, time.Minute
	case Aggressive:
		p.decrease, p.increase = 0.95, 0.1
		p.interval, p.unlimitedAfter = 500*time.Millisecond, 10*time.Second
	}
	if s.Floor > 0 {
		p.floor = float64(s.Floor)
	}
	if s.Initial > 0 {
		p.initial = float64(s.Initial)
	}
	if s.Decrease > 0 {
		p.decrease = s.Decrease
	}
	if s.Increase > 0 {
		p.increase = s.Increase
	}
	if s.RecoveryInterval > 0 {
		p.interval = s.RecoveryInterval
	}
	if s.UnlimitedAfter != 0 {
		p.unlimitedAfter = s.UnlimitedAfter
	}
	if s.MaxWaiters > 0 {
		p.maxWaiters = s.MaxWaiters
	}
	if s.MaxHosts > 0 {
		p.maxHosts = s.MaxHosts
	}
	return p
}
