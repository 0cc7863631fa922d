package limiter

import (
	"cmp"
	"net/http"
	"runtime"
	"slices"
	"time"

	"github.com/ebb-go/ebb/internal/hosts"
	"github.com/ebb-go/ebb/verdict"
)

// Transport is the limiter layer: an http.RoundTripper that holds one
// permit per attempt to a host while it is in flight, and adapts how many
// permits each host has from the verdicts of their answers. Create it with
// [New]. It is safe for concurrent use.
type Transport struct {
	next    http.RoundTripper
	s       Settings // with the defaults filled in
	p       params
	off     bool
	observe bool
	hooks   Hooks
	now     func() time.Time

	hosts hosts.Table[host]
}

var _ http.RoundTripper = (*Transport)(nil)

// Option configures a Transport beyond its Settings.
type Option interface{ apply(*Transport) }

type optionFunc func(*Transport)

func (f optionFunc) apply(t *Transport) { f(t) }

// WithHooks sets the functions told about waits and refusals.
func WithHooks(h Hooks) Option { return optionFunc(func(t *Transport) { t.hooks = h }) }

// New returns a limiter in front of next (http.DefaultTransport when nil)
// with the given settings. It panics with the error of [Settings.Validate]
// when s is invalid: settings are wired once, at start-up, and a mistake in
// them is a bug to fix, not a condition to handle per request; check values
// from outside the program with Validate first.
func New(next http.RoundTripper, s Settings, opts ...Option) *Transport {
	if err := s.Validate(); err != nil {
		panic(err)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	s = s.withDefaults()
	t := &Transport{
		next:    next,
		s:       s,
		p:       s.params(),
		off:     s.Profile == Off,
		observe: s.Profile == Observe,
		now:     time.Now,
	}
	t.hosts = hosts.Table[host]{
		Max:    s.MaxHosts,
		New:    func(label string) *host { return newHost(t, label) },
		Retire: (*host).retire,
	}
	for _, o := range opts {
		o.apply(t)
	}
	return t
}

// Settings returns the settings in force, with the defaults filled in.
func (t *Transport) Settings() Settings { return t.s }

// RoundTrip sends req through next once a permit for its host is free, and
// learns from the answer. It returns next's response and error as they are.
//
// An attempt that cannot have a permit at once waits in its host's queue
// until one is free or req's context ends. In the latter case, or when the
// queue is full ([ErrQueueFull]), RoundTrip returns an error matching
// [verdict.ErrNotSent] without sending anything, having closed req.Body as
// the RoundTripper contract asks. Drain operations ([verdict.Drains]) pass
// without a permit. req is never modified.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.off || verdict.Drains(req) {
		return t.next.RoundTrip(req)
	}
	key, longPoll := verdict.HostOf(req), verdict.Activation(req)
	h := t.hosts.Get(key)
	if h == nil {
		// More busy hosts than MaxHosts: this one goes unlimited.
		return t.next.RoundTrip(req)
	}
	if !longPoll {
		// The limit out of the way, as on a healthy cluster: a permit
		// costs a compare-and-swap each way.
		if e, ok := h.tryAcquire(); ok {
			return t.send(h, e, req)
		}
	}
	return t.roundTripSlow(h, key, longPoll, req)
}

// send sends req holding a permit taken while the limit was out of the way,
// in epoch e.
func (t *Transport) send(h *host, e uint64, req *http.Request) (*http.Response, error) {
	done := false
	defer func() {
		if !done { // next panicked: the permit goes back all the same
			h.release(permit{epoch: e}, verdict.Canceled)
		}
	}()
	resp, err := t.next.RoundTrip(req)
	// The permit goes back as soon as next returns, before the body is
	// read: the server has answered, its slot is free, and a caller slow
	// to read a large body must not hold back the attempts behind it. (The
	// verdict may read some of the body, which may panic: the deferred
	// release covers it.)
	k := verdict.Of(req, resp, err).Kind
	done = true
	if k == verdict.Backpressure || !h.tryRelease() {
		h.release(permit{epoch: e}, k)
	}
	return resp, err
}

func (t *Transport) roundTripSlow(h *host, key verdict.Host, longPoll bool, req *http.Request) (*http.Response, error) {
	var (
		p      permit
		waited time.Duration
		err    error
	)
	for {
		if p, waited, err = h.acquire(req, longPoll); err != errGone {
			break
		}
		// Retired as we came: the table forgets it in a moment.
		runtime.Gosched()
		if h = t.hosts.Get(key); h == nil {
			return t.next.RoundTrip(req)
		}
	}
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		t.report(h, waited, err)
		return nil, err
	}
	done, sent := false, false
	defer func() {
		if !done { // a hook or next panicked: the permit goes back all the same
			h.release(p, verdict.Canceled)
			if !sent && req.Body != nil {
				// OnWait panicked: the body goes back too (Hooks).
				req.Body.Close()
			}
		}
	}()
	if waited >= 0 && t.hooks.OnWait != nil {
		t.hooks.OnWait(h.label, waited)
	}
	sent = true
	resp, err := t.next.RoundTrip(req)
	k := verdict.Of(req, resp, err).Kind
	done = true
	h.release(p, k)
	return resp, err
}

// report calls the hooks about an attempt that got no permit. Everything
// the attempt held is given back by then, so a hook that panics leaves
// nothing behind.
func (t *Transport) report(h *host, waited time.Duration, err error) {
	if _, full := err.(*queueFullError); full {
		if t.hooks.OnReject != nil {
			t.hooks.OnReject(h.label)
		}
		return
	}
	if t.hooks.OnWait != nil {
		t.hooks.OnWait(h.label, waited)
	}
}

// CloseIdleConnections closes the idle connections of next, if it has such
// a method, so that http.Client.CloseIdleConnections reaches the base
// through this layer. The limiter never calls it on its own.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// HostStats is what [Transport.Stats] reports of one host.
type HostStats struct {
	// Host is the host's label, host:port, as the metrics name it.
	Host string
	// Limit is the number of attempts the host may have in flight;
	// [Unlimited] (0) while the limit is out of the way.
	Limit int
	// InFlight counts the attempts holding a permit; drain operations are
	// not counted.
	InFlight int
	// Waiting counts the attempts waiting for a permit.
	Waiting int
	// LongPolls counts the job activations in flight that hold no permit:
	// parked by the gateway, waiting for jobs (see the package doc).
	LongPolls int
}

// Stats returns the state of each host the limiter keeps, sorted by host.
// It is meant to be read when it is needed (a metrics scrape, a status
// page), not on every request: it takes each host's lock in turn.
func (t *Transport) Stats() []HostStats {
	var out []HostStats
	t.hosts.Range(func(_ string, h *host) bool {
		out = append(out, h.stats())
		return true
	})
	slices.SortFunc(out, func(a, b HostStats) int { return cmp.Compare(a.Host, b.Host) })
	return out
}
