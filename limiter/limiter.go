package limiter

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebb-go/ebb/verdict"
)

// Transport is the limiter layer: an http.RoundTripper that holds one
// permit per attempt to a host while it is in flight, and adapts how many
// permits each host has from the verdicts of their answers. Create it with
// [New]. It is safe for concurrent use.
type Transport struct {
	next    http.RoundTripper
	p       params
	off     bool
	observe bool
	hooks   Hooks
	gauges  bool // one of the hooks fed by publish is set
	now     func() time.Time

	last  atomic.Pointer[host] // the host of the last attempt: most clients talk to one
	mu    sync.RWMutex
	hosts map[verdict.Host]*host
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a limiter in front of next (http.DefaultTransport when nil)
// with the given settings. It panics with the error of [Settings.Validate]
// when s is invalid: settings are wired once, at start-up, and a mistake in
// them is a bug to fix, not a condition to handle per request; check values
// from outside the program with Validate first.
func New(next http.RoundTripper, s Settings) *Transport {
	if err := s.Validate(); err != nil {
		panic(err)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	t := &Transport{
		next:    next,
		p:       s.resolve(),
		off:     s.Profile == Off,
		observe: s.Profile == Observe,
		hooks:   s.Hooks,
		gauges:  s.Hooks.OnLimit != nil || s.Hooks.OnInFlight != nil || s.Hooks.OnWaiting != nil,
		now:     time.Now,
		hosts:   make(map[verdict.Host]*host),
	}
	return t
}

// RoundTrip sends req through next once a permit for its host is free, and
// learns from the answer. It returns next's response and error as they are.
//
// An attempt that cannot have a permit at once waits in its host's queue
// until one is free or req's context ends; in the latter case, or when the
// queue is full ([ErrQueueFull]), RoundTrip returns an error without sending
// anything, having closed req.Body as the RoundTripper contract asks. Drain
// operations (see the package doc) pass without a permit. req is never
// modified.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.off || drain(req) {
		return t.next.RoundTrip(req)
	}
	key := verdict.HostOf(req)
	h := t.host(key)
	var (
		p   permit
		err error
	)
	for h != nil {
		if p, err = h.acquire(req); err != errGone {
			break
		}
		h = t.lookup(key)
	}
	if h == nil {
		// More busy hosts than MaxHosts: this one goes unlimited.
		return t.next.RoundTrip(req)
	}
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	done := false
	defer func() {
		if !done { // next panicked: do not leak the permit
			h.release(p, verdict.Canceled)
		}
	}()
	resp, err := t.next.RoundTrip(req)
	done = true
	// The permit goes back as soon as next returns, before the body is
	// read: the server has answered, its slot is free, and a caller slow
	// to read a large body must not hold back the attempts behind it.
	h.release(p, verdict.Of(req, resp, err).Kind)
	return resp, err
}

// CloseIdleConnections closes the idle connections of next, if it has such
// a method, so that http.Client.CloseIdleConnections reaches the base
// through this layer. The limiter never calls it on its own.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// drain reports whether req is a drain operation, which removes load from
// the cluster and is never held back. The suffix test spares every other
// request the route lookup.
func drain(req *http.Request) bool {
	if req.URL == nil {
		return false
	}
	p := strings.TrimSuffix(req.URL.Path, "/")
	if !strings.HasSuffix(p, "/completion") && !strings.HasSuffix(p, "/failure") && !strings.HasSuffix(p, "/error") {
		return false
	}
	return verdict.RouteOf(req.URL.Path).Drain()
}

// host returns the state of key, creating it if needed; nil when the table
// is full of busy hosts.
func (t *Transport) host(key verdict.Host) *host {
	if h := t.last.Load(); h != nil && h.key == key {
		return h
	}
	return t.lookup(key)
}

func (t *Transport) lookup(key verdict.Host) *host {
	t.mu.RLock()
	h := t.hosts[key]
	t.mu.RUnlock()
	if h == nil {
		if h = t.add(key); h == nil {
			return nil
		}
	}
	t.last.Store(h)
	return h
}

func (t *Transport) add(key verdict.Host) *host {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.hosts[key]; h != nil {
		return h
	}
	if len(t.hosts) >= t.p.maxHosts {
		t.evict()
		if len(t.hosts) >= t.p.maxHosts {
			return nil
		}
	}
	h := &host{t: t, key: key, label: key.Label(), lastLimit: -1, lastInFlight: -1, lastWaiting: -1}
	h.ctl = newControl(&t.p)
	h.limitNow.Store(Unlimited)
	t.hosts[key] = h
	return h
}

// evict forgets idle hosts: first those whose limit is out of the way, which
// have learnt nothing worth keeping, then, if that freed nothing, any with
// no attempt in flight or waiting. t.mu is held.
func (t *Transport) evict() {
	for k, h := range t.hosts {
		if h.word.CompareAndSwap(0, goneBit) {
			delete(t.hosts, k)
		}
	}
	if len(t.hosts) < t.p.maxHosts {
		return
	}
	for k, h := range t.hosts {
		h.mu.Lock()
		if h.word.Load()&countMask == 0 && h.head == nil {
			h.word.Or(goneBit)
			if h.timer != nil {
				h.timer.Stop()
			}
			delete(t.hosts, k)
		}
		h.mu.Unlock()
	}
}

// The word of a host holds its attempts in flight and two flags. While the
// limit is out of the way, attempts take and return permits with a single
// compare-and-swap on it; once limitedBit is set, every change goes through
// the host's mutex.
const (
	limitedBit = 1 << 62
	goneBit    = 1 << 61 // evicted: look the host up again
	countMask  = goneBit - 1
)

var errGone = errors.New("limiter: host evicted")

// host is the limiter's state for one host.
type host struct {
	t     *Transport
	key   verdict.Host
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

	// Publication of the gauges to the hooks; see publish.
	limitNow, waitingNow                 atomic.Int64
	dirty, publishing                    atomic.Bool
	lastLimit, lastInFlight, lastWaiting int // touched only by the publisher
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

// acquire takes a permit for req, waiting for one if need be. It fails with
// errGone when the host was evicted meanwhile.
func (h *host) acquire(req *http.Request) (permit, error) {
	// The epoch is read before the permit is taken: an attempt that slips in
	// as the first backpressure arrives belongs to the burst before it.
	e := h.epoch.Load()
	for {
		w := h.word.Load()
		if w&(limitedBit|goneBit) != 0 {
			break
		}
		if h.word.CompareAndSwap(w, w+1) {
			h.publish()
			return permit{epoch: e}, nil
		}
	}
	return h.acquireSlow(req)
}

func (h *host) acquireSlow(req *http.Request) (permit, error) {
	h.mu.Lock()
	if h.word.Load()&goneBit != 0 {
		h.mu.Unlock()
		return permit{}, errGone
	}
	now := h.t.now()
	// Time may have raised the limit: those already waiting go first.
	h.advance(now)
	h.grant(now)
	n := int(h.word.Load() & countMask)
	permits := h.ctl.permits()
	if h.head == nil && (h.ctl.admits(now, n) || h.t.observe) {
		h.word.Add(1)
		if n+1 >= permits {
			h.ctl.reached(now)
		}
		p := permit{h.ctl.epoch, now}
		h.mu.Unlock()
		h.publish()
		return p, nil
	}
	h.ctl.reached(now)
	if h.waiting >= h.t.p.maxWaiters {
		h.mu.Unlock()
		if h.t.hooks.OnReject != nil {
			h.t.hooks.OnReject(h.label)
		}
		return permit{}, &queueFullError{host: h.label, waiting: h.t.p.maxWaiters}
	}
	w := &waiter{ready: make(chan struct{})}
	h.push(w)
	h.arm(now)
	h.mu.Unlock()
	h.publish()

	ctx := req.Context()
	select {
	case <-w.ready:
		h.waited(now)
		return w.permit, nil
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
		h.publish()
	}
	h.waited(now)
	return permit{}, fmt.Errorf("limiter: waiting for a permit for %s: %w", h.label, errors.Join(verdict.ErrNotSent, ctx.Err()))
}

func (h *host) waited(since time.Time) {
	if h.t.hooks.OnWait != nil {
		h.t.hooks.OnWait(h.label, h.t.now().Sub(since))
	}
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
				h.publish()
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
	h.publish()
}

// tick runs when the limit may have grown with time and attempts wait.
func (h *host) tick() {
	h.mu.Lock()
	h.timerAt = time.Time{}
	now := h.t.now()
	h.advance(now)
	h.grant(now)
	h.mu.Unlock()
	h.publish()
}

// advance applies the passing of time to the limit. h.mu is held.
func (h *host) advance(now time.Time) {
	h.ctl.advance(now)
	if h.ctl.unlimited() {
		h.word.And(^limitedBit)
	}
	h.limitNow.Store(int64(h.ctl.report()))
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
	h.waitingNow.Store(int64(h.waiting))
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
	h.waitingNow.Store(int64(h.waiting))
}

// publish hands the host's current limit, attempts in flight and waiters
// to the hooks, outside any lock. Whoever changes them calls it; one caller
// at a time publishes, and a caller that finds another publishing leaves
// its change to it, so the last values reported are always the current
// ones, even when a goroutine is preempted between its change and its call.
func (h *host) publish() {
	if !h.t.gauges {
		return
	}
	h.dirty.Store(true)
	for h.dirty.Load() && h.publishing.CompareAndSwap(false, true) {
		h.publishOnce()
	}
}

func (h *host) publishOnce() {
	defer h.publishing.Store(false)
	h.dirty.Store(false)
	hk := &h.t.hooks
	if l := int(h.limitNow.Load()); l != h.lastLimit {
		h.lastLimit = l
		if hk.OnLimit != nil {
			hk.OnLimit(h.label, l)
		}
	}
	if n := int(h.word.Load() & countMask); n != h.lastInFlight {
		h.lastInFlight = n
		if hk.OnInFlight != nil {
			hk.OnInFlight(h.label, n)
		}
	}
	if n := int(h.waitingNow.Load()); n != h.lastWaiting {
		h.lastWaiting = n
		if hk.OnWaiting != nil {
			hk.OnWaiting(h.label, n)
		}
	}
}
