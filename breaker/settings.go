package breaker

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Settings say when a host's breaker trips and how long it stays open. The
// zero value is the default breaker; every zero field takes the default given
// in its comment. The two trip rules — the failure ratio and the run of
// consecutive failures — can each be turned off with a negative value, but
// not both: use Disabled for a breaker that never trips.
type Settings struct {
	// Window is the span of the rolling window over which failures are
	// counted. 0 means 10s.
	Window time.Duration
	// Bucket is the step by which the window rolls: the counts of the
	// oldest Bucket are forgotten at once, and Window is rounded up to a
	// multiple of it. A Bucket equal to Window gives a fixed window, cleared
	// whole every Window. 0 means a tenth of Window (1s by default).
	Bucket time.Duration
	// FailureRatio trips the breaker when at least this share of the
	// requests counted in the window failed, once the window holds at least
	// MinRequests of them. It must be at most 1. 0 means 0.5; a negative
	// value turns the ratio rule off.
	FailureRatio float64
	// MinRequests is the fewest counted requests in the window for
	// FailureRatio to apply, so that two failures out of three do not trip
	// a quiet host. 0 means 10.
	MinRequests int
	// ConsecutiveFailures trips the breaker after this many failed requests
	// in a row within the window, whatever their share. 0 means 5; a
	// negative value turns the rule off.
	ConsecutiveFailures int
	// OpenTimeout is the open period after the breaker trips: how long it
	// refuses requests before it lets a probe through. Each failed probe
	// doubles the period, up to MaxOpenTimeout, and so does a trip within a
	// Window of the breaker closing; every period is drawn at random
	// between half and all of that length (see the package doc). 0 means
	// 100ms.
	OpenTimeout time.Duration
	// MaxOpenTimeout caps the open period as failed probes double it: how
	// long a host that is back may wait for the next probe. 0 means 500ms;
	// a negative value, or one not above OpenTimeout, keeps every period
	// at OpenTimeout.
	MaxOpenTimeout time.Duration
	// MaxRetryAfter caps how long a Retry-After on the failure that opens
	// the breaker (the one that trips it, or a failed probe) holds it open,
	// when that is longer than the period drawn. 0 means 60s; a negative
	// value means Retry-After is ignored.
	MaxRetryAfter time.Duration
	// Probes is the number of requests let through while half-open; all of
	// them must succeed for the breaker to close, and the first failure
	// opens it again. 0 means 1.
	Probes int
	// ProbeTimeout bounds a probe, from sending it to its response
	// headers: a probe that gets no answer in time fails, and the breaker
	// opens again, rather than hold the host refused while it waits on a
	// server that never answers. A probe is the whole request as the layer
	// below sees it: in the chain of package transport, every attempt and
	// wait of the retries below the breaker. The retry layer plans by the
	// bound as by a deadline: it hands back the last answer rather than
	// wait past it (say, a Retry-After longer than the bound). A probe
	// whose bound runs out before it leaves the process (waiting for a
	// limiter's permit) fails, but is not counted against the host: the
	// next request probes. A job activation's long poll gets its
	// requestTimeout on top (verdict.LongPoll), so the bound never cuts it
	// short. 0 means 10s; a negative value means no bound but the request's
	// own deadline.
	ProbeTimeout time.Duration
	// MaxHosts bounds the number of hosts that have a breaker; see the
	// package doc for which one gives way to a new host. 0 means 1024.
	MaxHosts int
	// Disabled turns the layer into a pass-through: no breaker, no hooks.
	Disabled bool
}

// Defaults of Settings, as its field comments give them.
const (
	defaultWindow              = 10 * time.Second
	defaultFailureRatio        = 0.5
	defaultMinRequests         = 10
	defaultConsecutiveFailures = 5
	defaultOpenTimeout         = 100 * time.Millisecond
	defaultMaxOpenTimeout      = 500 * time.Millisecond
	defaultMaxRetryAfter       = 60 * time.Second
	defaultProbes              = 1
	defaultProbeTimeout        = 10 * time.Second
	defaultMaxHosts            = 1024
)

// defaultBuckets is how many buckets the window rolls by when Bucket is zero:
// fine enough that a burst of failures leaves the window within a tenth of
// its span of the right moment, coarse enough that rolling costs nothing.
const defaultBuckets = 10

// maxBuckets bounds Window/Bucket: each host keeps a count per bucket and
// per stripe (see window.go), so the bound keeps a host's state small.
const maxBuckets = 1000

// ErrInvalidSettings is matched by every error [Settings.Validate] returns.
var ErrInvalidSettings = errors.New("breaker: invalid settings")

// Validate reports the first field of s that is out of range: a negative
// duration other than MaxOpenTimeout and MaxRetryAfter, a negative count
// other than ConsecutiveFailures, a FailureRatio above 1 or not a finite
// number, a Bucket longer than the Window or shorter than a thousandth of
// it, or both trip rules turned off. Its errors match [ErrInvalidSettings] and name the
// field and its value.
func (s Settings) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: %s = %v: %s", ErrInvalidSettings, field, v, why)
	}
	switch {
	case s.Window < 0:
		return bad("Window", s.Window, "must not be negative")
	case s.Bucket < 0:
		return bad("Bucket", s.Bucket, "must not be negative")
	case math.IsNaN(s.FailureRatio) || math.IsInf(s.FailureRatio, 0):
		return bad("FailureRatio", s.FailureRatio, "must be a finite number")
	case s.FailureRatio > 1:
		return bad("FailureRatio", s.FailureRatio, "must be at most 1")
	case s.MinRequests < 0:
		return bad("MinRequests", s.MinRequests, "must not be negative")
	case s.MinRequests > math.MaxUint32:
		return bad("MinRequests", s.MinRequests, "is too large")
	case s.ConsecutiveFailures > math.MaxUint32:
		return bad("ConsecutiveFailures", s.ConsecutiveFailures, "is too large")
	case s.OpenTimeout < 0:
		return bad("OpenTimeout", s.OpenTimeout, "must not be negative")
	case s.Probes < 0:
		return bad("Probes", s.Probes, "must not be negative")
	case s.Probes > math.MaxUint32:
		return bad("Probes", s.Probes, "is too large")
	case s.MaxHosts < 0:
		return bad("MaxHosts", s.MaxHosts, "must not be negative")
	case s.FailureRatio < 0 && s.ConsecutiveFailures < 0:
		return bad("FailureRatio", s.FailureRatio, "and ConsecutiveFailures are both off; set Disabled instead")
	}
	q := s.withDefaults()
	switch {
	case q.Bucket > q.Window:
		return bad("Bucket", q.Bucket, fmt.Sprintf("must not exceed Window (%v)", q.Window))
	case q.buckets() > maxBuckets:
		return bad("Bucket", q.Bucket, fmt.Sprintf("must be at least Window/%d (%v)", maxBuckets, q.Window/maxBuckets))
	}
	return nil
}

// withDefaults returns s with every zero field set to its default.
func (s Settings) withDefaults() Settings {
	if s.Window == 0 {
		s.Window = defaultWindow
	}
	if s.Bucket == 0 {
		s.Bucket = max(s.Window/defaultBuckets, 1)
	}
	if s.FailureRatio == 0 {
		s.FailureRatio = defaultFailureRatio
	}
	if s.MinRequests == 0 {
		s.MinRequests = defaultMinRequests
	}
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = defaultConsecutiveFailures
	}
	if s.OpenTimeout == 0 {
		s.OpenTimeout = defaultOpenTimeout
	}
	if s.MaxOpenTimeout == 0 {
		s.MaxOpenTimeout = defaultMaxOpenTimeout
	}
	if s.MaxRetryAfter == 0 {
		s.MaxRetryAfter = defaultMaxRetryAfter
	}
	if s.Probes == 0 {
		s.Probes = defaultProbes
	}
	if s.ProbeTimeout == 0 {
		s.ProbeTimeout = defaultProbeTimeout
	}
	if s.MaxHosts == 0 {
		s.MaxHosts = defaultMaxHosts
	}
	return s
}

// buckets is the number of buckets in the window, Window rounded up to a
// whole number of Buckets; s has its defaults.
func (s Settings) buckets() int64 {
	return int64((s.Window + s.Bucket - 1) / s.Bucket)
}

// State is the state of one host's breaker. Its values are those of the
// ebb_breaker_state gauge.
type State int8

// The states of a breaker, in the numbering gobreaker uses too.
const (
	// Closed lets every request through and counts their outcomes.
	Closed State = iota
	// HalfOpen lets Settings.Probes requests through to test the host and
	// refuses the others.
	HalfOpen
	// Open refuses every request, except drain operations.
	Open
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "unknown"
}
