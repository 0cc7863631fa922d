package limiter

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebb-go/ebb/internal/bounded"
	"github.com/ebb-go/ebb/verdict"
)

// The word of a host holds its attempts in flight and two flags. While the
// limit is out of the way, attempts take and return permits with a single
// compare-and-swap on it; once limitedBit is set, every change goes through
// the host's mutex.
const (
	limitedBit = 1 << 62
	goneBit    = 1 << 61 // retired from the table: look the host up again
	countMask  = goneBit - 1
)

var errGone = errors.New("limiter: host retired")

// host is the limiter's state for one host.
type host struct {
	t     *Transport
	label string

	word  atomic.Int64
	epoch atomic.Uint64 // ctl.epoch, readable without the mutex
	polls atomic.Int64  // long polls in flight that hold no permit

	mu      sync.Mutex
	ctl     control
	head    *waiter // queue of waiting attempts: long polls first, then FIFO
	tail    *waiter
	waiting int
	timer   *time.Timer // wakes waiters when the limit grows with time
	timerAt time.Time
}

type waiter struct {
	ready      chan struct{}
	prev, next *waiter
	permit     permit
	granted    bool
	poll       bool
}

// permit is what an attempt holds while in flight.
type permit struct {
	epoch uint64    // the epoch the attempt started in
	start time.Time // when it started; zero while the limit is out of the way
	// poll is set for a long poll. While the limit is out of the way it
	// holds no permit (free); otherwise it holds one while the host serves
	// it, and gives it back when the gateway has had the time to park it.
	poll *poll
	free bool
}

// poll is a long poll holding a permit.
type poll struct {
	timer  *time.Timer
	parked bool // its permit went back; guarded by the host's mutex
}

func newHost(t *Transport, label string) *host {
	return &host{t: t, label: label, ctl: newControl(&t.p)}
}

// retire marks h retired if its limit is out of the way and nothing is in
// flight or waiting, and reports whether it did: the hosts table's eviction
// rule. An attempt that finds the mark looks its host up again.
func (h *host) retire() bool {
	if h.polls.Load() != 0 {
		return false
	}
	if h.word.CompareAndSwap(0, goneBit) {
		return h.retired()
	}
	// The limit may have gone out of the way with time, unnoticed.
	if !h.mu.TryLock() {
		return false
	}
	defer h.mu.Unlock()
	if h.head != nil {
		return false
	}
	h.advance(h.t.now())
	return h.word.CompareAndSwap(0, goneBit) && h.retired()
}

// retired confirms the mark retire has just set, unless a long poll that
// holds no permit came in meanwhile: a long poll counts itself in polls
// before it reads the word, and retire marks the word before it reads
// polls, so that one of the two sees the other. If the long poll did, it
// looks its host up again; if retire did, it takes the mark back.
func (h *host) retired() bool {
	if h.polls.Load() == 0 {
		return true
	}
	h.word.CompareAndSwap(goneBit, 0)
	return false
}

// tryAcquire takes a permit if the limit is out of the way, with a single
// compare-and-swap, and returns the epoch the attempt starts in.
func (h *host) tryAcquire() (uint64, bool) {
	// The epoch is read before the permit is taken: an attempt that slips in
	// as the first backpressure arrives belongs to the burst before it.
	e := h.epoch.Load()
	for {
		w := h.word.Load()
		if w&(limitedBit|goneBit) != 0 {
			return 0, false
		}
		if h.word.CompareAndSwap(w, w+1) {
			return e, true
		}
	}
}

// tryRelease gives back a permit taken while the limit was out of the way,
// if it still is, with a single compare-and-swap, and reports whether it
// did.
func (h *host) tryRelease() bool {
	for {
		w := h.word.Load()
		if w&limitedBit != 0 {
			return false
		}
		if h.word.CompareAndSwap(w, w-1) {
			return true
		}
	}
}

// acquire takes a permit for req, a long poll or not, waiting for one if
// need be (an attempt that is not a long poll has found tryAcquire fail),
// and returns how long it waited, or -1 when it did not queue. It fails
// with errGone when the host was retired meanwhile, with a
// *queueFullError when too many wait, and with a *waitError when req's
// context ended first.
func (h *host) acquire(req *http.Request, longPoll bool) (permit, time.Duration, error) {
	if longPoll {
		// The epoch is read before the word: a long poll that slips in as
		// the first backpressure arrives belongs to the burst before it.
		e := h.epoch.Load()
		// Parked by the gateway without using the cluster, a long poll
		// takes no permit while the limit is out of the way, so that it
		// is not counted as load when the first refusal comes. It counts
		// itself before it reads the word (see retired).
		h.polls.Add(1)
		if h.word.Load()&(limitedBit|goneBit) == 0 {
			return permit{epoch: e, free: true}, -1, nil
		}
		h.polls.Add(-1)
		// The limit holds: an activation that asks for an answer at once
		// is not parked, and takes its turn like any attempt. Telling it
		// from a long poll reads the body again, which only an attempt
		// that may wait pays for.
		longPoll = verdict.Parks(req)
	}
	return h.acquireSlow(req, longPoll)
}

func (h *host) acquireSlow(req *http.Request, longPoll bool) (permit, time.Duration, error) {
	h.mu.Lock()
	if h.word.Load()&goneBit != 0 {
		h.mu.Unlock()
		return permit{}, -1, errGone
	}
	now := h.t.now()
	// Time may have raised the limit: those already waiting go first.
	h.advance(now)
	h.grant(now)
	n := int(h.word.Load() & countMask)
	// Whoever still waits after grant could not be admitted, and nor can
	// this attempt: it queues behind them (a long poll before the ordinary
	// attempts, see push). Observe queues nobody.
	if h.head == nil && (h.ctl.admits(now, n, false) || h.t.observe) {
		h.word.Add(1)
		if n+1 >= h.ctl.permits() {
			h.ctl.reached(now)
		}
		p := h.newPermit(now, longPoll)
		h.mu.Unlock()
		return p, -1, nil
	}
	h.ctl.reached(now)
	if h.waiting >= h.t.p.maxWaiters {
		h.mu.Unlock()
		return permit{}, -1, &queueFullError{host: h.label, waiting: h.t.p.maxWaiters}
	}
	w := &waiter{ready: make(chan struct{}), poll: longPoll}
	h.push(w)
	h.arm(now)
	h.mu.Unlock()

	ctx := req.Context()
	// An attempt's time bound (retry's AttemptTimeout) runs from sending
	// it: the wait for a permit is the client's own, not the host's.
	resume := bounded.Hold(ctx)
	select {
	case <-w.ready:
		if resume != nil {
			resume()
		}
		return w.permit, h.t.now().Sub(now), nil
	case <-ctx.Done():
	}
	h.mu.Lock()
	if w.granted {
		// The permit came as the context ended: give it to the next.
		h.mu.Unlock()
		h.release(w.permit, verdict.Canceled)
	} else {
		h.remove(w)
		if h.head == nil {
			h.disarm()
		}
		h.mu.Unlock()
	}
	waited := h.t.now().Sub(now)
	return permit{}, waited, &waitError{host: h.label, waited: waited, err: context.Cause(ctx)}
}

// newPermit returns the permit of an attempt let in at now. For a long
// poll it arms the timer that gives the permit back once the gateway has
// had the time to serve it and park it: two rounds. h.mu is held.
func (h *host) newPermit(now time.Time, longPoll bool) permit {
	p := permit{epoch: h.ctl.epoch, start: now}
	if longPoll {
		hold := 2 * h.ctl.round
		if hold == 0 {
			hold = h.t.p.interval / 10
		}
		pl := &poll{}
		pl.timer = time.AfterFunc(hold, func() { h.park(pl) })
		p.poll = pl
	}
	return p
}

// park gives back the permit of a long poll the gateway has parked: it
// waits for jobs without using the cluster's capacity, and holding its
// permit would take the place of an attempt that does.
func (h *host) park(pl *poll) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pl.parked || pl.timer == nil {
		return // answered meanwhile
	}
	pl.parked = true
	h.polls.Add(1)
	h.word.Add(-1)
	now := h.t.now()
	h.advance(now)
	h.grant(now)
}

// release returns the permit of an attempt and learns from its verdict:
// backpressure lowers the limit, a success or a client error (the server is
// up and answering) may raise it, and the rest says nothing about how much
// the server can take.
func (h *host) release(p permit, k verdict.Kind) {
	if p.free {
		h.polls.Add(-1)
		if k == verdict.Backpressure {
			h.mu.Lock()
			h.refused(p, false)
			h.mu.Unlock()
		}
		return
	}
	if p.poll == nil && k != verdict.Backpressure && h.tryRelease() {
		return
	}
	h.mu.Lock()
	if p.poll != nil {
		p.poll.timer.Stop()
		parked := p.poll.parked
		p.poll.timer, p.poll.parked = nil, true
		if parked {
			// Its permit went back when the gateway parked it.
			h.polls.Add(-1)
			if k == verdict.Backpressure {
				h.refused(p, false)
			}
			h.mu.Unlock()
			return
		}
	}
	if k == verdict.Backpressure {
		h.refused(p, true)
		h.mu.Unlock()
		return
	}
	now := h.t.now()
	if k == verdict.Success || k == verdict.ClientError {
		var d time.Duration
		if !p.start.IsZero() && p.poll == nil {
			d = now.Sub(p.start)
		}
		h.ctl.healthy(now, d, p.epoch, int(h.word.Load()&countMask), h.waiting)
	}
	h.word.Add(-1)
	h.advance(now)
	h.grant(now)
	h.mu.Unlock()
}

// refused learns from backpressure to an attempt, which gives back its
// permit if it holds one. h.mu is held.
func (h *host) refused(p permit, holds bool) {
	now := h.t.now()
	n := int(h.word.Load() & countMask)
	if !holds {
		n++ // counted as if it held one, to read the others in flight
	}
	h.ctl.backpressure(now, p.epoch, n)
	h.word.Or(limitedBit)
	if holds {
		h.word.Add(-1)
	}
	h.advance(now)
	h.grant(now)
}

// tick runs when the limit may have grown with time and attempts wait.
func (h *host) tick() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timerAt = time.Time{}
	now := h.t.now()
	h.advance(now)
	h.grant(now)
}

// stats reports the host's numbers as they stand now.
func (h *host) stats() HostStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.t.now()
	h.advance(now)
	h.grant(now)
	return HostStats{
		Host:      h.label,
		Limit:     h.ctl.report(),
		InFlight:  int(h.word.Load() & countMask),
		Waiting:   h.waiting,
		LongPolls: int(h.polls.Load()),
	}
}

// advance applies the passing of time to the limit. h.mu is held.
func (h *host) advance(now time.Time) {
	h.ctl.advance(now)
	if h.ctl.unlimited() {
		h.word.And(^limitedBit)
	}
	if e := h.ctl.epoch; h.epoch.Load() != e {
		h.epoch.Store(e)
	}
}

// grant hands free permits to the waiters in the queue's order, and keeps
// the timer armed while some are left. h.mu is held.
func (h *host) grant(now time.Time) {
	for h.head != nil && h.ctl.admits(now, int(h.word.Load()&countMask), true) {
		w := h.head
		h.remove(w)
		h.word.Add(1)
		w.permit, w.granted = h.newPermit(now, w.poll), true
		close(w.ready)
	}
	if h.head == nil {
		h.disarm()
	} else {
		h.arm(now)
	}
}

// arm makes sure the timer will wake the waiters when the limit next grows
// with time, so that they never depend on an answer to come back. h.mu is
// held.
func (h *host) arm(now time.Time) {
	at := h.ctl.next(now)
	if at.IsZero() || at.Equal(h.timerAt) {
		return
	}
	h.timerAt = at
	if h.timer == nil {
		h.timer = time.AfterFunc(at.Sub(now), h.tick)
	} else {
		h.timer.Reset(at.Sub(now))
	}
}

func (h *host) disarm() {
	if h.timer != nil && !h.timerAt.IsZero() {
		h.timer.Stop()
		h.timerAt = time.Time{}
	}
}

// push queues w: a long poll after the long polls already waiting, any
// other attempt last.
func (h *host) push(w *waiter) {
	at := h.tail // w goes after at; nil: first
	if w.poll {
		at = nil
		for x := h.head; x != nil && x.poll; x = x.next {
			at = x
		}
	}
	w.prev = at
	if at != nil {
		w.next, at.next = at.next, w
	} else {
		w.next, h.head = h.head, w
	}
	if w.next != nil {
		w.next.prev = w
	} else {
		h.tail = w
	}
	h.waiting++
}

func (h *host) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		h.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		h.tail = w.prev
	}
	w.prev, w.next = nil, nil
	h.waiting--
}
