package limiter

import (
	"math"
	"time"
)

// control is the adaptive limit of one host. It is pure logic: what depends
// on time takes it as an argument, nothing blocks, nothing is shared. The
// host's mutex guards it.
type control struct {
	p *params

	limit float64 // +Inf while out of the way
	// known is the number of attempts the host was last seen to accept: the
	// other attempts in flight when the last counted backpressure came. A
	// refusal with fewer in flight means another client took room; above
	// it the limit probes, faster the farther it gets without a refusal.
	known float64
	// epoch counts the counted decreases. An attempt remembers the epoch it
	// started in; backpressure to an attempt from an earlier epoch is the
	// tail of a burst already acted on.
	epoch uint64

	// While backpressure would take the limit below its floor, no more
	// than held attempts are in flight before holdUntil.
	holdUntil time.Time
	held      int
	// round is the smoothed duration of healthy attempts, measured while
	// the limit holds: the time one permit takes to come back.
	round time.Duration

	signalAt  time.Time // the last backpressure, counted or not
	grownAt   time.Time // when RecoveryInterval last added a permit
	reachedAt time.Time // the last time the limit was taken in full
}

func newControl(p *params) control {
	return control{p: p, limit: math.Inf(1)}
}

func (c *control) unlimited() bool { return math.IsInf(c.limit, 1) }

// permits returns how many attempts the limit admits at once.
func (c *control) permits() int {
	if c.unlimited() {
		return math.MaxInt
	}
	return int(c.limit)
}

// report returns the limit as HostStats gives it.
func (c *control) report() int {
	if c.unlimited() {
		return Unlimited
	}
	return int(c.limit)
}

// backpressure records a backpressure answer to an attempt that started in
// epoch while n attempts, itself included, were in flight.
func (c *control) backpressure(now time.Time, epoch uint64, n int) {
	c.signalAt, c.grownAt, c.reachedAt = now, now, now
	others := float64(n - 1)
	if c.unlimited() {
		l := c.p.initial
		if l == 0 {
			l = others
		}
		c.limit, c.known = max(l, c.p.floor), others
		c.epoch++
		return
	}
	if epoch != c.epoch {
		return
	}
	l := c.limit * c.p.decrease
	switch {
	case others < c.known:
		// The host took fewer attempts than it did last time: another
		// client took some of its room (or the host shrank). Shedding a
		// share of what is still in flight, rather than only the attempt
		// refused, is what brings clients sharing a host to even shares:
		// the one holding most is refused most often and gives back most.
		l = others * c.p.decrease
	default:
		// A probe above the known level was refused: back to what is in
		// flight, which the host does accept, at once.
		l = min(l, others)
	}
	if l < c.p.floor {
		// The limit cannot follow the server below the floor. Without a
		// pause the floor's permits would pass from waiter to waiter, each
		// refused within a round trip; with it, a host that gets nothing
		// through tries again as often as one holding permits probes for
		// one more, so that neither crowds the other out.
		c.holdUntil, c.held = now.Add(c.probeInterval()), n-1
	}
	c.limit, c.known = max(l, c.p.floor), others
	c.epoch++
}

// probeInterval is the time the limit takes to probe one permit higher:
// 1/Increase rounds, at most RecoveryInterval (a round may be a long poll).
func (c *control) probeInterval() time.Duration {
	if c.round == 0 {
		return c.p.interval
	}
	return min(time.Duration(float64(c.round)/c.p.increase), c.p.interval)
}

// admits reports whether an attempt may start at now with n in flight.
func (c *control) admits(now time.Time, n int) bool {
	return n < c.permits() && (n < c.held || !now.Before(c.holdUntil))
}

// healthy records a healthy answer to an attempt that took d (0 when not
// measured) and ended while n attempts, itself included, were in flight and
// others may have been waiting. The limit grows only while it is in use: a
// limit nobody reaches has not been tested, and growing it would promise
// what was never seen.
func (c *control) healthy(d time.Duration, n int, waiting bool) {
	if d > 0 {
		if c.round == 0 {
			c.round = d
		} else {
			c.round += (d - c.round) / 8
		}
	}
	if c.unlimited() || (n < c.permits() && !waiting) {
		return
	}
	switch {
	case c.limit > c.known:
		// A permit every 1/increase rounds up to a permit above the known
		// level, then exponential in the rounds spent above it: a server
		// that grew is found within a second or two, while a steady one
		// costs one refused probe every 1/increase rounds, the same for
		// every client however many permits it holds.
		c.limit += c.p.increase * max(1, c.limit-c.known) / c.limit
	default:
		c.limit += c.p.increase / c.limit
	}
}

// reached records that the limit was taken in full at now.
func (c *control) reached(now time.Time) { c.reachedAt = now }

// advance applies what time alone does to the limit: a permit per
// RecoveryInterval without backpressure, and out of the way after
// UnlimitedAfter without backpressure and without the limit being reached.
func (c *control) advance(now time.Time) {
	if c.unlimited() {
		return
	}
	if ua := c.p.unlimitedAfter; ua >= 0 && now.Sub(c.signalAt) >= ua && now.Sub(c.reachedAt) >= ua {
		c.limit, c.known = math.Inf(1), 0
		return
	}
	if k := now.Sub(c.grownAt) / c.p.interval; k > 0 {
		c.limit += float64(k)
		c.grownAt = c.grownAt.Add(k * c.p.interval)
	}
}

// next returns when advance will next change the limit with nobody
// reaching it, for the timer that wakes waiters; zero when never.
func (c *control) next(now time.Time) time.Time {
	if c.unlimited() {
		return time.Time{}
	}
	if now.Before(c.holdUntil) {
		return c.holdUntil
	}
	return c.grownAt.Add(c.p.interval)
}
