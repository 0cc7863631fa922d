package limiter

import (
	"math"
	"time"
)

// The constants of the law, which the settings do not change; LAW.md has
// the measurements that chose them.
const (
	// backlogRef is the backlog, in waiting attempts per permit, at which
	// a client probes at the pace Settings.Increase gives; the pace follows
	// the cube of the backlog, within [paceMin, paceMax] times that. The
	// high bound lets a client squeezed far below its share (a backlog of
	// 22 per permit or more) win its permits back within a few dozen
	// rounds, as fast as a chain of probes can take them. It holds only
	// while the host accepts the client's probes: a client whose probes are
	// refused is alone against a full host (or the host shrank), and there
	// a fast pace finds nothing and wastes an attempt a probe, so the bound
	// falls towards paceLost with the share of probes refused.
	backlogRef                 = 7
	paceMin, paceLost, paceMax = 0.5, 4, 32
	// lostWindow is the number of probes over which that share is smoothed.
	lostWindow = 8
	// contested is how long after a client was last displaced (refused
	// within the level the host accepted) its accepted probes are taken
	// from other clients rather than from idle room: for that long a
	// client with no more than the reference backlog does not chain its
	// probes, unless such refusals are frequent (bg of a quarter of bgMax
	// or more), as a hot partition's are.
	contested = 2 * time.Second
	// proof is the share of a round a probe must be accepted for to count
	// as a level the host accepts.
	proof = 0.5
	// bgWindow is the number of attempts over which the share refused
	// within the known level is smoothed, and bgMax the share above which
	// the background test runs.
	bgWindow, bgMax = 128, 0.05
	// testRounds is the length of each phase of the background test, in
	// rounds, and bgHold how long refusals found to be background stay so.
	testRounds = 4
	bgHold     = 10 * time.Second
)

// control is the adaptive limit of one host. It is pure logic: what depends
// on time takes it as an argument, nothing blocks, nothing is shared. The
// host's mutex guards it.
type control struct {
	p *params

	limit float64 // +Inf while out of the way
	// known is the number of attempts the host was last seen to accept:
	// the other attempts in flight when the last counted backpressure came,
	// less those of them refused since, or a probe it accepted. An attempt
	// in flight beyond it is a probe.
	known float64
	// epoch counts the counted refusals. An attempt remembers the epoch it
	// started in; backpressure to an attempt from an earlier epoch is the
	// tail of a burst already acted on.
	epoch uint64
	// answers counts the healthy answers while a probe is in flight.
	answers float64

	// bg is the smoothed share of attempts refused within the known level:
	// refusals that do not come from this client pushing above what the
	// host accepts. When it is high, a test tells whether such refusals
	// fall when concurrency falls; if they do not, they are background
	// until bgUntil and change nothing.
	bg      float64
	bgUntil time.Time
	// bgSeen says the last test found background refusals: when their
	// hold ends and refusals within the known level come again, the test
	// runs again at once, rather than after the limit has been cut for them.
	bgSeen bool
	test   test
	// peak is the limit before the refusals within the known level that
	// raised bg began: the level the test measures first.
	peak float64

	// While a refusal would take the limit below its floor, waiters are
	// held back until holdUntil.
	holdUntil time.Time
	// lost is the smoothed share of probes the host refused, over about
	// the last lostWindow probes.
	lost float64
	// round is the smoothed duration of healthy attempts, measured while
	// the limit holds: the time one permit takes to come back.
	round time.Duration

	displacedAt time.Time // the last refusal within the known level
	signalAt    time.Time // the last backpressure, counted or not
	grownAt     time.Time // when RecoveryInterval last added a permit
	reachedAt   time.Time // the last time the limit was taken in full
}

// test measures the share of attempts refused at two levels of
// concurrency: the limit as it is (phase 1), then half of it (phase 2).
// Attempts that started in the phase's epoch count.
type test struct {
	phase             int // 0: no test
	epoch             uint64
	from              float64 // the limit before the test
	attempts, refused [3]float64
	inFlight          [3]float64 // summed over the attempts, for the mean
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

// probe reports whether n attempts in flight go beyond the level the host
// was last seen to accept.
func (c *control) probe(n int) bool { return float64(n) > c.known }

// set makes l the limit and known the level the host accepts, counting a
// new epoch.
func (c *control) set(now time.Time, l, known float64) {
	if l < c.p.floor {
		// The limit cannot follow the host below its floor. Without a
		// pause the floor's permits would pass from waiter to waiter, each
		// refused within a round trip.
		c.holdUntil = now.Add(c.probeInterval())
	}
	c.limit, c.known, c.answers = max(l, c.p.floor), known, 0
	c.epoch++
}

// backpressure records a backpressure answer to an attempt that started in
// epoch while n attempts, itself included, were in flight.
func (c *control) backpressure(now time.Time, epoch uint64, n int) {
	c.signalAt, c.grownAt, c.reachedAt = now, now, now
	others := float64(n - 1)
	switch {
	case c.unlimited():
		l := c.p.initial
		if l == 0 {
			l = others
		}
		c.set(now, l, others)
	case c.test.phase > 0:
		c.measure(now, epoch, n, true)
	case !c.probe(n) && now.Before(c.bgUntil):
		// Background: not a sign of load.
	case !c.probe(n) && c.bgSeen:
		// Background before, maybe still: test again at the level the
		// limit holds, before cutting it for refusals that may not be
		// about load at all.
		c.bgSeen = false
		c.epoch++
		c.test = test{phase: 1, epoch: c.epoch, from: c.limit}
	case epoch != c.epoch:
		// The tail of a burst already acted on: the host took one attempt
		// fewer than counted then.
		c.limit = max(c.limit-1, c.p.floor)
		c.known = max(c.known-1, 0)
	case c.probe(n):
		// A probe refused: back to what the host does accept.
		c.lost += (1 - c.lost) / lostWindow
		c.set(now, others, others)
	default:
		// Refused within the level the host accepted: another client took
		// room, the host shrank, or part of it refuses whatever the load.
		if c.bg < bgMax/4 {
			c.peak = c.limit
		}
		if c.bg += (1 - c.bg) / bgWindow; c.bg > bgMax {
			// Do these refusals fall when concurrency falls? Measure them
			// at the level before they began, then at half of it.
			c.epoch++
			c.test = test{phase: 1, epoch: c.epoch, from: max(c.peak, c.limit)}
			c.limit = c.test.from
			return
		}
		c.displacedAt = now
		c.set(now, others*c.p.decrease, others)
	}
}

// measure counts an answer to an attempt of the background test; refused
// says it was backpressure. At the end of each phase it moves the test on.
func (c *control) measure(now time.Time, epoch uint64, n int, refused bool) {
	t := &c.test
	if epoch != t.epoch {
		return
	}
	ph := t.phase
	t.attempts[ph]++
	t.inFlight[ph] += float64(n)
	if refused {
		t.refused[ph]++
	}
	// Each phase lasts testRounds rounds of the level before the test.
	if t.attempts[ph] < testRounds*max(t.from, 4)/float64(ph) {
		return
	}
	if ph == 1 {
		c.epoch++
		t.phase, t.epoch = 2, c.epoch
		c.limit = max(math.Floor(t.inFlight[1]/t.attempts[1]/2), c.p.floor)
		return
	}
	share1, share2 := t.refused[1]/t.attempts[1], t.refused[2]/t.attempts[2]
	n1, n2 := t.inFlight[1]/t.attempts[1], t.inFlight[2]/t.attempts[2]
	if n2 < 0.8*n1 && share1 < 0.5 && share2 >= 0.5*share1 {
		// Fewer attempts in flight, at least half the share refused: these
		// refusals do not come from the load.
		c.bgUntil, c.bgSeen = now.Add(bgHold), true
		c.limit = t.from
	} else {
		// They fall: the host is full. The limit stays at the lower level,
		// from which probes find what the host takes.
		c.bg = 0
	}
	c.epoch++
	c.test = test{}
}

// probeInterval is the floor pause: a round, the time a permit takes to
// come back, so that a client at its floor tries as often as one that
// holds a permit; a tenth of RecoveryInterval until a round is measured.
func (c *control) probeInterval() time.Duration {
	if c.round == 0 {
		return c.p.interval / 10
	}
	return min(c.round, c.p.interval)
}

// admits reports whether an attempt may start at now with n in flight. A
// waiter is held back while the floor pause lasts; an attempt that finds
// nothing in flight and nobody waiting is not, so that a client alone waits
// only what its retries say.
func (c *control) admits(now time.Time, n int, waiter bool) bool {
	return n < c.permits() && (n == 0 && !waiter || !now.Before(c.holdUntil))
}

// healthy records a healthy answer to an attempt that started in epoch and
// took d (0 when not measured), which ended while n attempts, itself
// included, were in flight and waiting attempts waited. The limit grows
// only while it is in use: a limit nobody reaches has not been tested, and
// growing it would promise what was never seen.
func (c *control) healthy(now time.Time, d time.Duration, epoch uint64, n, waiting int) {
	if d > 0 {
		if c.round == 0 {
			c.round = d
		} else {
			c.round += (d - c.round) / 8
		}
	}
	if c.unlimited() {
		return
	}
	if c.test.phase > 0 {
		c.measure(now, epoch, n, false)
		return
	}
	probe := c.probe(n)
	if !probe {
		c.bg -= c.bg / bgWindow
	}
	if n < c.permits() && waiting == 0 {
		return
	}
	if probe {
		// Accepted for part of a round, a probe is a level the host
		// accepts, and the next one follows at once, so that capacity
		// that returns is used within a few rounds.
		if c.answers++; c.answers >= proof*c.limit {
			c.known = math.Floor(c.limit)
			c.limit, c.answers = c.known+1, 0
			c.lost -= c.lost / lostWindow
			if now.Sub(c.displacedAt) < contested && c.bg < bgMax/4 && float64(waiting) <= backlogRef*c.known {
				// Room is contested and this client waits no longer than
				// the reference: the next probe comes at the pace, not at
				// once, or its chain would take one permit after another
				// from the clients it displaces. Displacements are rare
				// against other clients; refusals within the known level
				// that are frequent (bg) are more likely a hot partition's,
				// after which the chain is what wins the level back.
				c.limit = c.known
			}
		}
		return
	}
	// Probing costs a refusal (this client's, or another's it displaces),
	// so a client probes at a pace set by its backlog per permit: one
	// whose requests queue longer presses harder, which brings clients
	// sharing a host to equal waits. Pressing hard pays only while probes
	// win: as more are refused, the high bound falls.
	r := float64(waiting) / c.limit / backlogRef
	pace := min(max(r*r*r, paceMin), max(paceMax*(1-c.lost), paceLost))
	c.limit += c.p.increase * pace / c.limit
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
		// Epochs go on counting: attempts in flight remember theirs.
		*c = control{p: c.p, limit: math.Inf(1), epoch: c.epoch + 1, round: c.round}
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
