package limiter

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

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

	mu      sync.Mutex
	ctl     control
	head    *waiter // FIFO of waiting attempts
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
}

// permit is what an attempt holds while in flight.
type permit struct {
	epoch uint64    // the epoch the attempt started in
	start time.Time // when it started; zero while the limit is out of the way
}

func newHost(t *Transport, label string) *host {
	return &host{t: t, label: label, ctl: newControl(&t.p)}
}

// retire marks h retired if its limit is out of the way and nothing is in
// flight or waiting, and reports whether it did: the hosts table's eviction
// rule. An attempt that finds the mark looks its host up again.
func (h *host) retire() bool {
	if h.word.CompareAndSwap(0, goneBit) {
		return true
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
	return h.word.CompareAndSwap(0, goneBit)
}

// acquire takes a permit for req, waiting for one if need be, and returns
// how long it waited, or -1 when it did not queue. It fails with errGone when the host was retired
// meanwhile, with a *queueFullError when too many wait, and with a
// *waitError when req's context ended first.
func (h *host) acquire(req *http.Request) (permit, time.Duration, error) {
	// The epoch is read before the permit is taken: an attempt that slips in
	// as the first backpressure arrives belongs to the burst before it.
	e := h.epoch.Load()
	for {
		w := h.word.Load()
		if w&(limitedBit|goneBit) != 0 {
			break
		}
		if h.word.CompareAndSwap(w, w+1) {
			return permit{epoch: e}, -1, nil
		}
	}
	return h.acquireSlow(req)
}

func (h *host) acquireSlow(req *http.Request) (permit, time.Duration, error) {
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
	if h.head == nil && (h.ctl.admits(now, n) || h.t.observe) {
		h.word.Add(1)
		if n+1 >= h.ctl.permits() {
			h.ctl.reached(now)
		}
		p := permit{h.ctl.epoch, now}
		h.mu.Unlock()
		return p, -1, nil
	}
	h.ctl.reached(now)
	if h.waiting >= h.t.p.maxWaiters {
		h.mu.Unlock()
		return permit{}, -1, &queueFullError{host: h.label, waiting: h.t.p.maxWaiters}
	}
	w := &waiter{ready: make(chan struct{})}
	h.push(w)
	h.arm(now)
	h.mu.Unlock()

	ctx := req.Context()
	select {
	case <-w.ready:
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
	return permit{}, waited, &waitError{host: h.label, waited: waited, err: ctx.Err()}
}

// release returns the permit of an attempt and learns from its verdict:
// backpressure lowers the limit, a success or a client error (the server is
// up and answering) may raise it, and the rest says nothing about how much
// the server can take.
func (h *host) release(p permit, k verdict.Kind) {
	if k != verdict.Backpressure {
		for {
			w := h.word.Load()
			if w&limitedBit != 0 {
				break
			}
			if h.word.CompareAndSwap(w, w-1) {
				return
			}
		}
	}
	h.mu.Lock()
	now := h.t.now()
	n := int(h.word.Load() & countMask)
	switch k {
	case verdict.Backpressure:
		h.ctl.backpressure(now, p.epoch, n)
		h.epoch.Store(h.ctl.epoch)
		h.word.Or(limitedBit)
	case verdict.Success, verdict.ClientError:
		var d time.Duration
		if !p.start.IsZero() {
			d = now.Sub(p.start)
		}
		h.ctl.healthy(d, n, h.head != nil)
	}
	h.word.Add(-1)
	h.advance(now)
	h.grant(now)
	h.mu.Unlock()
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
		Host:     h.label,
		Limit:    h.ctl.report(),
		InFlight: int(h.word.Load() & countMask),
		Waiting:  h.waiting,
	}
}

// advance applies the passing of time to the limit. h.mu is held.
func (h *host) advance(now time.Time) {
	h.ctl.advance(now)
	if h.ctl.unlimited() {
		h.word.And(^limitedBit)
	}
}

// grant hands free permits to the waiters, first come first served, and
// keeps the timer armed while some are left. h.mu is held.
func (h *host) grant(now time.Time) {
	for h.head != nil && h.ctl.admits(now, int(h.word.Load()&countMask)) {
		w := h.head
		h.remove(w)
		h.word.Add(1)
		w.permit, w.granted = permit{h.ctl.epoch, now}, true
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

func (h *host) push(w *waiter) {
	w.prev = h.tail
	if h.tail != nil {
		h.tail.next = w
	} else {
		h.head = w
	}
	h.tail = w
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
