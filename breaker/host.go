package breaker

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebb-go/ebb/verdict"
	"github.com/sony/gobreaker/v2"
)

// host is one host's breaker: gobreaker's state machine, and beside it what
// this package keeps — the counts of the closed state, the open period, a
// copy of the state readable without a lock, and the transitions waiting for
// the hook.
//
// Every call into cb is made with mu held, so gobreaker's OnStateChange
// (changed) runs under mu too, and whatever it records is consistent with cb
// for whoever holds mu. Requests read state, gen and openUntil without a lock.
type host struct {
	t     *Transport
	cb    *gobreaker.TwoStepCircuitBreaker[struct{}]
	label string // host:port

	state     atomic.Int32              // cb's state as its last transition left it
	gen       atomic.Uint64             // cb's transitions so far
	openUntil atomic.Int64              // end of the open period, as a clock duration
	probes    atomic.Int64              // probes out since the breaker turned half-open
	openErr   atomic.Pointer[OpenError] // the error of the open period's refusals
	used      atomic.Bool               // a request came since the last eviction scan
	pending   atomic.Bool               // transitions wait for OnStateChange
	// othersRefused is when a request other than a job activation was last
	// refused, as a clock duration: while that is recent, activations do
	// not probe.
	othersRefused atomic.Int64
	pollProbe     atomic.Pointer[probe] // a job activation out as the probe
	w             window                // successes are counted without mu

	mu         sync.Mutex
	name       string        // scheme://host:port, for errors; set by the first failure
	halfErr    *OpenError    // the error of the refusals beside the probes
	gone       bool          // forgotten by the table
	openedAt   time.Duration // when the breaker last opened, as a clock duration
	period     time.Duration // the length of the last open period
	doublings  int           // of OpenTimeout in the last open period
	closedAt   time.Duration // when the breaker last closed, if closed is set
	closed     bool          // the breaker closed after a probe at least once
	delivering bool          // a goroutine is calling OnStateChange
	queue      []change      // transitions waiting for OnStateChange
}

type change struct{ from, to State }

func (t *Transport) newHost(label string) *host {
	h := &host{t: t, label: label, w: newWindow(t.s.buckets())}
	h.othersRefused.Store(int64(-othersWait)) // none yet
	h.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        label,
		MaxRequests: uint32(t.s.Probes),
		// The open period is this package's (openUntil), because it is
		// not fixed: it grows, it is drawn at random, and a Retry-After
		// lengthens it. cb is asked for a probe only once that period is
		// over, so its own is made as short as gobreaker allows, and over
		// by then.
		Timeout: time.Nanosecond,
		// cb is told of a failure in the closed state only when the
		// window's counts meet a trip rule (failure): it must trip.
		ReadyToTrip:   func(gobreaker.Counts) bool { return true },
		OnStateChange: h.changed,
		IsExcluded:    func(err error) bool { return err == errExcluded },
	})
	return h
}

// success counts a success in bucket b of a request sent in generation
// gen, and ends the run of failures if there is one.
func (h *host) success(b int64, gen uint64) {
	if h.gen.Load() != gen {
		return // sent before a transition: gobreaker would not count it either
	}
	h.w.success(b)
	if h.w.runOn.Load() {
		h.mu.Lock()
		if h.gen.Load() == gen {
			h.w.endRun()
		}
		h.mu.Unlock()
	}
}

// failure counts a failure of a request sent in generation gen while the
// breaker was closed, and trips the breaker if a rule says so.
func (h *host) failure(req *http.Request, resp *http.Response, gen uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.name == "" {
		h.name = verdict.HostOf(req).String()
	}
	if h.gen.Load() != gen || h.gone {
		return
	}
	c := h.t.clock
	b := c.now()
	failures, run := h.w.failure(b)
	if !h.trips(b, failures, run) {
		return
	}
	done, err := h.cb.Allow()
	if err != nil {
		return // not closed after all; cannot happen with mu held
	}
	done(errFailed)
	h.lengthen(h.t.retryAfter(resp))
}

// trips reports whether the counts of the window ending with bucket b meet
// a trip rule of the settings.
func (h *host) trips(b, failures, run int64) bool {
	s := &h.t.s
	if s.ConsecutiveFailures > 0 && run >= int64(s.ConsecutiveFailures) {
		return true
	}
	if s.FailureRatio < 0 {
		return false
	}
	// Exclusions are not counted: the ratio is over the requests that
	// were judged.
	n := failures + h.w.successes(b)
	return n >= int64(s.MinRequests) && float64(failures) >= s.FailureRatio*float64(n)
}

// changed is gobreaker's OnStateChange; mu is held. It records the
// transition for the lock-free readers, starts the open period, and queues
// the transition for the hook, which deliver calls once mu is released.
func (h *host) changed(_ string, from, to gobreaker.State) {
	now := h.t.clock.since()
	h.gen.Add(1)
	h.probes.Store(0)
	h.w.reset()
	if h.halfErr == nil {
		h.halfErr = &OpenError{Host: h.name, State: HalfOpen}
	}
	switch State(to) {
	case Open:
		h.open(now, State(from))
	case Closed:
		h.closedAt, h.closed = now, true
	}
	h.state.Store(int32(to))
	if h.t.hooks.OnStateChange != nil && !h.gone {
		h.queue = append(h.queue, change{State(from), State(to)})
		h.pending.Store(true)
	}
}

// open starts an open period at now, the breaker coming from state from. mu
// is held.
//
// The period doubles from OpenTimeout with each failed probe, and with a
// trip less than a Window after the breaker closed (the host is not back
// for good), up to MaxOpenTimeout; after a Window closed it starts again
// from OpenTimeout. The period drawn is between half and all of that
// length, at random, so that the processes that saw one outage do not probe
// in step.
func (h *host) open(now time.Duration, from State) {
	s := &h.t.s
	switch {
	case from == HalfOpen, h.closed && now-h.closedAt < s.Window:
		h.doublings++
	default:
		h.doublings = 0
	}
	d, n := s.OpenTimeout, 0
	for n < h.doublings && d < s.MaxOpenTimeout {
		d, n = min(2*d, s.MaxOpenTimeout), n+1
	}
	h.doublings = n
	h.setOpen(now, d-time.Duration(h.t.jitter()*float64(d/2)))
}

// setOpen holds the breaker open for period from at. mu is held.
func (h *host) setOpen(at, period time.Duration) {
	h.openedAt, h.period = at, period
	until := at + period
	h.openUntil.Store(int64(until))
	h.openErr.Store(&OpenError{Host: h.name, State: Open, Until: h.t.clock.epoch.Add(until)})
}

// lengthen holds a breaker that has just opened open for d from the
// moment it opened, if that is longer than its period. mu is held.
func (h *host) lengthen(d time.Duration) {
	if d > h.period && State(h.state.Load()) == Open {
		h.setOpen(h.openedAt, d)
	}
}

// refusal returns the error of a request refused at instant now without
// asking gobreaker: the breaker is open, or half-open with its probes out.
// nil means gobreaker must be asked.
func (h *host) refusal(now time.Duration) *OpenError {
	switch State(h.state.Load()) {
	case Open:
		if now <= time.Duration(h.openUntil.Load()) {
			return h.openErr.Load()
		}
	case HalfOpen:
		if h.probes.Load() >= int64(h.t.s.Probes) {
			return h.halfErr
		}
	}
	return nil
}

// probe is a probe's place in a half-open breaker.
type probe struct {
	h    *host
	done func(error) // nil once settled; guarded by h.mu
	gen  uint64
	sent time.Duration // when a long poll was sent, as a clock duration
}

// parkPoll gives back the place of a job activation that has been the
// probe for longPollPark without an answer, as parked by the gateway, and
// reports whether it did. Its answer, when it comes, is not counted: the
// request that takes its place judges the host.
func (h *host) parkPoll(now time.Duration) bool {
	p := h.pollProbe.Load()
	if p == nil || now-p.sent < longPollPark {
		return false
	}
	h.pollProbe.CompareAndSwap(p, nil)
	return p.settle(excluded, nil)
}

// admit asks gobreaker for a probe's place. It returns the place, or the
// error of a refusal, or neither when the breaker is closed again.
func (h *host) admit() (probe, *OpenError) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.t.clock.since()
	if State(h.state.Load()) == Closed {
		return probe{}, nil
	}
	if r := h.refusal(now); r != nil {
		return probe{}, r
	}
	done, err := h.cb.Allow() // an open breaker turns half-open here
	switch err {
	case nil:
		h.probes.Add(1)
		return probe{h: h, done: done, gen: h.gen.Load()}, nil
	case gobreaker.ErrOpenState:
		return probe{}, h.openErr.Load()
	}
	return probe{}, h.halfErr
}

// settle tells gobreaker the probe's outcome and gives its place back, and
// reports whether it did: only the first call does anything. Calls may come
// from two goroutines (a long poll is parked by the request that takes its
// place), and the host's mutex orders them.
func (p *probe) settle(o outcome, resp *http.Response) bool {
	var ra time.Duration
	if o == failed {
		ra = p.h.t.retryAfter(resp)
	}
	h := p.h
	h.mu.Lock()
	defer h.mu.Unlock()
	done := p.done
	if done == nil {
		return false
	}
	p.done = nil
	if h.gen.Load() == p.gen {
		h.probes.Add(-1)
	}
	done(o.err())
	h.lengthen(ra)
	return true
}

// deliver calls OnStateChange for the queued transitions, outside every
// lock. One goroutine at a time delivers for a host, and it delivers until
// the queue is empty, so calls come in order and never overlap; a goroutine
// that finds another delivering leaves its transitions to it. A transition
// is taken off the queue before its hook is called: if the hook panics, the
// ones after it stay queued for the next goroutine that delivers.
func (h *host) deliver() {
	h.mu.Lock()
	if h.delivering {
		h.mu.Unlock()
		return
	}
	h.delivering = true
	defer func() {
		// Reached with mu held, also when a hook panics.
		h.delivering = false
		h.mu.Unlock()
	}()
	for len(h.queue) > 0 {
		c := h.queue[0]
		h.queue = h.queue[1:]
		h.pending.Store(len(h.queue) > 0)
		h.call(c)
	}
}

// call calls the hook for c with mu released, and takes mu again however
// the hook returns.
func (h *host) call(c change) {
	h.mu.Unlock()
	defer h.mu.Lock()
	h.t.hooks.OnStateChange(h.label, c.from, c.to)
}

// retire is the table's eviction rule: a closed breaker that saw no request
// since the last scan may go; the scan gives the others a second chance.
// An open or half-open one stays, as forgetting it would send traffic to a
// host known to be failing. Called with the table's lock held.
func (h *host) retire() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if State(h.state.Load()) != Closed || h.used.Swap(false) {
		return false
	}
	h.gone = true
	return true
}

// stats reads the host's state for Stats.
func (h *host) stats() HostStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.t.clock.since()
	hs := HostStats{Host: h.label, State: State(h.state.Load()), OpenPeriod: h.period}
	switch hs.State {
	case Open:
		if left := time.Duration(h.openUntil.Load()) - now; left >= 0 {
			hs.OpenFor = left
		} else {
			hs.State = HalfOpen
		}
	case Closed:
		b := h.t.clock.at(now)
		failures, run := h.w.failures(b)
		hs.Requests = int(failures + h.w.successes(b))
		hs.Failures, hs.ConsecutiveFailures = int(failures), int(run)
	}
	return hs
}
