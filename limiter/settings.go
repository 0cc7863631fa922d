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
	// backpressure would take it lower, the attempts waiting are held back
	// for a round instead (see the package doc). 0 means 1.
	Floor int
	// Initial is the limit set by the first backpressure a host sends while
	// the limit is out of the way. 0 means the number of the host's other
	// attempts in flight at that moment — what the server was just seen to
	// accept — which needs no guess of the server's size.
	Initial int
	// Decrease is the factor applied to the attempts still in flight when
	// the host refuses one within the level it was known to accept: another
	// client took room, or the host shrank. In (0, 1]; 1 gives back only
	// the room taken. (A refused probe takes the limit back to the attempts
	// in flight, whatever Decrease.) Below 1, the client holding most gives
	// back most; but any room given back beyond what was taken goes to the
	// first probe that finds it, and over real loopback that fed other
	// clients' chains of probes (LAW.md). 0 means the profile's: 1 (0.9 for
	// Conservative).
	Decrease float64
	// Increase is the pace of probing, in probes per round of attempts (a
	// round is as many answers as the limit) for a client with 7 attempts
	// waiting per permit; a client with a longer backlog probes faster (as
	// the cube of the backlog, up to 32 times while the host accepts its
	// probes, 4 times once it refuses them), one with a shorter one
	// slower (down to half). Each probe is one permit above the level the
	// host accepts; one the host accepts is followed at once by the next,
	// unless the client was displaced within 2s, waits no longer than the
	// reference and sees such refusals rarely. In (0, 1]. 0 means the profile's:
	// 0.02 (0.01 for Conservative, 0.04 for Aggressive).
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
	// whose limit is out of the way are forgotten, and if none is, the new
	// host's attempts pass unlimited. 0 means 1024.
	MaxHosts int
}

// Hooks are told of the limiter's events, for metrics, with the host's
// label (host:port, as [verdict.Host.Label] gives it). A nil hook costs
// nothing. Hooks run on the goroutine of the attempt they report, never
// while the limiter holds a lock, so they may call back into it ([Transport.Stats]).
// A hook that panics propagates the panic to the caller of RoundTrip, as
// net/http does, having first given back everything the attempt held: its
// permit, its place in the queue, its request body.
//
// The limit, the attempts in flight and those waiting are not events: read
// them when they are needed with [Transport.Stats].
type Hooks struct {
	// OnWait receives, for each attempt that had to wait for a permit, how
	// long it waited, whether it got a permit or its context ended.
	OnWait func(host string, d time.Duration)
	// OnReject is called for each attempt refused with [ErrQueueFull].
	OnReject func(host string)
}

// Unlimited is the limit [HostStats] reports while the limit is out of the
// way. A real limit is never below 1.
const Unlimited = 0

// ErrInvalidSettings is matched by every error [Settings.Validate] returns.
var ErrInvalidSettings = errors.New("limiter: invalid settings")

// Validate reports the first field of s that is out of range: an unknown
// profile, a negative count or interval, a factor outside its range or not
// a finite number, or an Initial below the Floor. [New] panics with its
// error.
func (s Settings) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: %s = %v: %s", ErrInvalidSettings, field, v, why)
	}
	switch {
	case int(s.Profile) >= len(profileNames):
		return bad("Profile", s.Profile, "is not a known profile")
	case s.Floor < 0:
		return bad("Floor", s.Floor, "must not be negative")
	case s.Initial < 0:
		return bad("Initial", s.Initial, "must not be negative")
	case s.Initial > 0 && s.Initial < s.withDefaults().Floor:
		return bad("Initial", s.Initial, fmt.Sprintf("must not be below Floor (%d)", s.withDefaults().Floor))
	case !finite(s.Decrease) || s.Decrease < 0 || s.Decrease > 1:
		return bad("Decrease", s.Decrease, "must be in (0, 1]")
	case !finite(s.Increase) || s.Increase < 0 || s.Increase > 1:
		return bad("Increase", s.Increase, "must be in (0, 1]")
	case s.RecoveryInterval < 0:
		return bad("RecoveryInterval", s.RecoveryInterval, "must not be negative")
	case s.MaxWaiters < 0:
		return bad("MaxWaiters", s.MaxWaiters, "must not be negative")
	case s.MaxHosts < 0:
		return bad("MaxHosts", s.MaxHosts, "must not be negative")
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// withDefaults returns s with every zero field set to its profile's value.
func (s Settings) withDefaults() Settings {
	d := Settings{
		Profile:          s.Profile,
		Floor:            1,
		Decrease:         1,
		Increase:         0.02,
		RecoveryInterval: time.Second,
		UnlimitedAfter:   30 * time.Second,
		MaxWaiters:       1024,
		MaxHosts:         1024,
	}
	switch s.Profile {
	case Conservative:
		d.Decrease, d.Increase = 0.9, 0.01
		d.RecoveryInterval, d.UnlimitedAfter = 2*time.Second, time.Minute
	case Aggressive:
		d.Increase = 0.04
		d.RecoveryInterval, d.UnlimitedAfter = 500*time.Millisecond, 10*time.Second
	}
	set(&d.Floor, s.Floor)
	set(&d.Initial, s.Initial)
	set(&d.Decrease, s.Decrease)
	set(&d.Increase, s.Increase)
	set(&d.RecoveryInterval, s.RecoveryInterval)
	set(&d.UnlimitedAfter, s.UnlimitedAfter)
	set(&d.MaxWaiters, s.MaxWaiters)
	set(&d.MaxHosts, s.MaxHosts)
	return d
}

// set replaces *dst with v unless v is zero.
func set[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// params are the numbers the control law runs on, taken from Settings
// with the defaults filled in.
type params struct {
	floor, initial float64
	decrease       float64
	increase       float64
	interval       time.Duration
	unlimitedAfter time.Duration // negative: never
	maxWaiters     int
}

func (s Settings) params() params {
	return params{
		floor:          float64(s.Floor),
		initial:        float64(s.Initial),
		decrease:       s.Decrease,
		increase:       s.Increase,
		interval:       s.RecoveryInterval,
		unlimitedAfter: s.UnlimitedAfter,
		maxWaiters:     s.MaxWaiters,
	}
}
