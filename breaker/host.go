package breaker

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebb-go/ebb/verdict"
	"github.com/sony/gobreaker/v2"
)

// entry is one host's breaker and what this package keeps beside it.
type entry struct {
	t     *Transport
	cb    *gobreaker.CircuitBreaker[struct{}]
	label string // host:port, for hooks
	name  string // scheme://host:port, for errors

	// state mirrors cb's state as its last transition left it, read
	// without cb's lock. It lags only where gobreaker itself is lazy: an
	// open breaker whose period is over reads Open until a request moves
	// it on.
	state atomic.Int32
	// openUntil is the end of the open period as a duration since t.epoch,
	// or 0 when the breaker is not open. It is written under cb's lock, on
	// every transition.
	openUntil atomic.Int64
	// used is set by every request and cleared by eviction scans: a closed
	// breaker used since the last scan gets a second chance.
	used    atomic.Bool
	evicted atomic.Bool

	// retryAfter is the lengthened open period the failure being counted
	// asked for; guarded by cb's lock, which gobreaker holds from judging
	// an outcome to the transition it causes.
	retryAfter time.Duration

	// Transitions waiting for OnStateChange. pending lets a request see
	// that there are none without taking mu.
	pending    atomic.Bool
	mu         sync.Mutex
	delivering bool     // guarded by mu
	queue      []change // guarded by mu
	spare      []change // guarded by mu
}

type change struct{ from, to State }

func (t *Transport) newEntry(h verdict.Host, label string) *entry {
	e := &entry{t: t, label: label, name: h.String()}
	e.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:          label,
		MaxRequests:   uint32(t.s.Probes),
		Interval:      t.s.Window,
		BucketPeriod:  t.s.Bucket,
		Timeout:       t.s.OpenTimeout,
		ReadyToTrip:   t.ready,
		OnStateChange: e.changed,
		IsSuccessful:  e.counted,
		IsExcluded:    isExcluded,
	})
	return e
}

// counted is gobreaker's IsSuccessful, called under cb's lock for every
// outcome that is not excluded. It keeps a failure's Retry-After for
// changed, which runs next, under the same lock, if the failure trips.
func (e *entry) counted(err error) bool {
	if err == nil {
		return true
	}
	e.retryAfter = 0
	if o, ok := err.(outcome); ok {
		e.retryAfter = o.retryAfter
	}
	return false
}

// changed is gobreaker's OnStateChange. It runs under cb's lock, so it must
// not call into cb nor into user code: it records the transition and queues
// it for the hook, which deliver calls once the lock is released.
func (e *entry) changed(_ string, from, to gobreaker.State) {
	t := e.t
	if State(to) == Open {
		d := max(t.s.OpenTimeout, e.retryAfter)
		e.openUntil.Store(int64(time.Since(t.epoch) + d))
	} else {
		e.openUntil.Store(0)
	}
	e.state.Store(int32(to))
	if t.hooks.OnStateChange == nil || e.evicted.Load() {
		return
	}
	e.mu.Lock()
	e.queue = append(e.queue, change{State(from), State(to)})
	e.pending.Store(true)
	e.mu.Unlock()
}

// deliver calls OnStateChange for the queued transitions, outside every
// lock. One goroutine at a time delivers for a host, and it delivers until
// the queue is empty, so calls come in order and never overlap; a goroutine
// that finds another delivering leaves its transitions to it. That includes
// a hook calling State, which may queue a transition of its own.
func (e *entry) deliver() {
	e.mu.Lock()
	if e.delivering {
		e.mu.Unlock()
		return
	}
	e.delivering = true
	defer func() {
		// Reached with mu held, also when a hook panics: the next
		// request can then deliver again.
		e.delivering = false
		e.mu.Unlock()
	}()
	hook := e.t.hooks.OnStateChange
	for len(e.queue) > 0 {
		batch := e.queue
		e.queue = e.spare[:0]
		e.pending.Store(false)
		e.mu.Unlock()
		for _, c := range batch {
			if !e.evicted.Load() {
				e.callHook(hook, c)
			}
		}
		e.mu.Lock()
		e.spare = batch[:0]
	}
}

// callHook calls hook with mu reacquired if it panics, the state deliver's
// deferred cleanup expects.
func (e *entry) callHook(hook func(string, State, State), c change) {
	ok := false
	defer func() {
		if !ok {
			e.mu.Lock()
		}
	}()
	hook(e.label, c.from, c.to)
	ok = true
}

// entry returns the breaker of host h, creating it on first use.
func (t *Transport) entry(h verdict.Host) *entry {
	if e, ok := (*t.hosts.Load())[h]; ok {
		return e
	}
	return t.add(h)
}

// add finds or creates the entry of a host not in the lookup map yet. Keys
// are bounded as well as entries: a host spelt in more ways than the bound
// allows still shares its breaker, it is only looked up here each time.
func (t *Transport) add(h verdict.Host) *entry {
	var gone *entry
	t.mu.Lock()
	old := *t.hosts.Load()
	e, ok := old[h]
	if ok {
		t.mu.Unlock()
		return e
	}
	label := h.Label()
	e = t.labels[label]
	if e == nil {
		if len(t.labels) >= t.s.MaxHosts {
			gone = t.victim()
			gone.evicted.Store(true)
			delete(t.labels, gone.label)
		}
		e = t.newEntry(h, label)
		t.labels[label] = e
	} else if len(old) >= 2*t.s.MaxHosts {
		t.mu.Unlock()
		return e
	}
	m := maps.Clone(old)
	if gone != nil {
		maps.DeleteFunc(m, func(_ verdict.Host, v *entry) bool { return v == gone })
	}
	m[h] = e
	t.hosts.Store(&m)
	t.mu.Unlock()
	if gone != nil {
		if gone.pending.Load() {
			gone.deliver()
		}
		if f := t.hooks.OnEvict; f != nil {
			f(gone.label)
		}
	}
	return e
}

// victim picks the entry that gives way to a new host, by the clock
// algorithm: the first closed breaker that saw no request since the last
// scan (the scan clears the mark of the others), else any closed one, else
// any one. An open breaker is kept while a closed one can go: forgetting it
// would send traffic to a host known to be failing. Called with t.mu held.
func (t *Transport) victim() *entry {
	var closed, anyone *entry
	for _, e := range t.labels {
		if anyone == nil {
			anyone = e
		}
		if State(e.state.Load()) != Closed {
			continue
		}
		if !e.used.Swap(false) {
			return e
		}
		if closed == nil {
			closed = e
		}
	}
	if closed != nil {
		return closed
	}
	return anyone
}
