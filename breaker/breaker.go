package breaker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ebb-go/ebb/internal/bounded"
	"github.com/ebb-go/ebb/internal/hosts"
	"github.com/ebb-go/ebb/verdict"
)

// Transport is the breaker layer: an http.RoundTripper that keeps one circuit
// breaker per host in front of the next RoundTripper. Create it with [New].
// It is safe for concurrent use.
type Transport struct {
	next  http.RoundTripper
	s     Settings // with defaults filled in
	hooks Hooks
	clock *clock
	hosts hosts.Table[host]
	// jitter draws the share of an open period left out, in [0, 1).
	jitter func() float64
}

var _ http.RoundTripper = (*Transport)(nil)

// Hooks are told what the breaker does, so that metrics and logs can follow
// it without this package knowing them. host is the host's label, host:port,
// as in ebb's metrics. No hook is ever called under a lock of this package or
// of gobreaker, so a hook may call [Transport.Stats]. A hook that panics
// makes the request that called it panic; the breaker's state is left as if
// the hook had returned. A nil hook costs nothing.
type Hooks struct {
	// OnStateChange is called for every transition of a host's breaker.
	// The calls for one host never overlap and come in the order of the
	// transitions; they are made by the request goroutine that caused the
	// transition, or by the one delivering the host's earlier transitions
	// at that moment, before it returns. Transitions are lazy, as in
	// gobreaker: an open breaker turns half-open when a request finds its
	// open period over, not when the period ends.
	OnStateChange func(host string, from, to State)
	// OnReject is called on the refused request's goroutine for every
	// request the breaker refuses, with the request (which must not be
	// modified). Drain operations let through an open breaker are not
	// refusals.
	OnReject func(host string, req *http.Request)
}

// Option configures a Transport beyond its Settings.
type Option interface{ apply(*Transport) }

type optionFunc func(*Transport)

func (f optionFunc) apply(t *Transport) { f(t) }

// WithHooks sets the functions told about transitions and refusals.
func WithHooks(h Hooks) Option { return optionFunc(func(t *Transport) { t.hooks = h }) }

// New returns a breaker layer in front of next (http.DefaultTransport when
// nil). It panics with the error of [Settings.Validate] if s is invalid:
// check settings read from outside the program with Validate first.
func New(next http.RoundTripper, s Settings, opts ...Option) *Transport {
	if err := s.Validate(); err != nil {
		panic(err)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	t := &Transport{next: next, s: s.withDefaults(), jitter: rand.Float64}
	t.clock = newClock(t.s.Bucket)
	t.hosts = hosts.Table[host]{Max: t.s.MaxHosts, New: t.newHost, Retire: (*host).retire}
	for _, o := range opts {
		if o != nil {
			o.apply(t)
		}
	}
	return t
}

// Settings returns the settings in force, with the defaults filled in.
func (t *Transport) Settings() Settings { return t.s }

// RoundTrip sends req through the breaker of its host. While the breaker is
// closed, or for a probe while it is half-open, req goes to the next
// RoundTripper and its answer is returned as it is; the outcome is counted
// (see the package doc). Otherwise req is refused: nothing is sent, its body
// is closed, and the error is an [*OpenError] matching [ErrOpen],
// verdict.ErrRefused and verdict.ErrNotSent. Drain operations pass an open or half-open breaker
// uncounted. req is never modified.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.s.Disabled {
		return t.next.RoundTrip(req)
	}
	h := t.hosts.Get(verdict.HostOf(req))
	if h == nil {
		// The table is full of breakers that are open or busy: this
		// host goes without one rather than take theirs (package doc).
		return t.send(req)
	}
	if !h.used.Load() {
		h.used.Store(true)
	}
	if State(h.state.Load()) == Closed {
		return t.closed(req, h)
	}
	if verdict.Drains(req) {
		return t.send(req)
	}
	return t.probe(req, h)
}

// closed sends req through a closed breaker. A success is counted without
// a lock; a failure may trip the breaker.
func (t *Transport) closed(req *http.Request, h *host) (*http.Response, error) {
	gen := h.gen.Load()
	resp, err := t.send(req)
	switch t.judge(req, resp, err) {
	case succeeded:
		h.success(t.clock.coarse(), gen)
	case failed:
		h.failure(req, resp, gen)
		return t.deliver(h, resp, err)
	}
	return resp, err
}

// probe sends req as a probe if the breaker lets one through, and refuses it
// otherwise. The probe's place is given back on every path, a panic of the
// next RoundTripper or of a hook included.
func (t *Transport) probe(req *http.Request, h *host) (*http.Response, error) {
	now := t.clock.since()
	r := h.refusal(now)
	poll := verdict.Activation(req)
	switch {
	case r == nil && poll && now-time.Duration(h.othersRefused.Load()) < othersWait && verdict.Parks(req):
		// Other requests are being refused: one of them probes, not a
		// job activation, which a gateway that is up may park for its
		// whole requestTimeout before it can say anything. (One that
		// asks for an answer at once probes like them; telling it apart
		// reads the body, so only a request that would probe pays.)
		r = h.halfErr
	case r != nil && !poll && h.parkPoll(now):
		// The probe was a job activation the gateway has parked: this
		// request probes in its place.
		r = nil
	}
	var p probe
	if r == nil {
		p, r = h.admit()
	}
	switch {
	case r != nil:
		if !poll && now-time.Duration(h.othersRefused.Load()) > othersWait/100 {
			// Written at most every 10ms, so that callers refused on
			// several processors do not contend for its cache line.
			h.othersRefused.Store(int64(now))
		}
		t.deliver(h, nil, nil)
		return t.refuse(req, h, r)
	case p.done == nil:
		return t.closed(req, h) // it closed meanwhile
	}
	return t.sendAsProbe(req, h, p, poll)
}

// othersWait is how long after a request other than a job activation was
// refused the activations leave the probe's place to such requests.
const othersWait = time.Second

// sendAsProbe sends req as the probe p holds the place of. (It is apart
// from probe so that p, which a long poll shares with the host, is moved
// to the heap only here: a refusal allocates nothing.)
func (t *Transport) sendAsProbe(req *http.Request, h *host, p probe, poll bool) (*http.Response, error) {
	defer p.settle(excluded, nil) // does nothing once settled below
	t.deliver(h, nil, nil)
	var lp time.Duration // the long poll's wait, read from the body once
	if poll {
		lp = verdict.LongPoll(req, verdict.RouteOf(req.URL.Path))
	}
	if lp > 0 {
		// A request refused while this long poll is parked may take its
		// place (host.parkPoll).
		p.sent = t.clock.since()
		h.pollProbe.Store(&p)
		defer h.pollProbe.CompareAndSwap(&p, nil)
	}
	resp, err := t.sendProbe(req, lp)
	o := t.judge(req, resp, err)
	if o == failed && errors.Is(err, errProbeTimeout) && errors.Is(err, verdict.ErrNotSent) {
		// The bound ran out before the probe left the process (it waited
		// for a permit of a limiter below): the host was never asked, so
		// the probe counts for nothing, as a local refusal would, and the
		// next request probes in its place.
		o = excluded
	}
	p.settle(o, resp)
	return t.deliver(h, resp, err)
}

// longPollPark is how long a job activation sent as the probe stays the
// probe for sure: one that has not been answered by then is parked by the
// gateway (one that is down refuses or answers it well within that time),
// and another request refused beside it takes its place.
const longPollPark = 250 * time.Millisecond

// sendProbe sends a probe bounded by ProbeTimeout (plus longPoll, a long
// poll's own wait), unless the request's deadline comes sooner. A probe that runs out
// of time is judged a failure: its error is a timeout, not the caller's
// cancellation.
func (t *Transport) sendProbe(req *http.Request, longPoll time.Duration) (*http.Response, error) {
	d := t.s.ProbeTimeout
	if d < 0 {
		return t.send(req)
	}
	d += longPoll
	if dl, ok := req.Context().Deadline(); ok && time.Until(dl) <= d {
		return t.send(req)
	}
	resp, timedOut, err := bounded.RoundTrip(t.next, req, d, false)
	if timedOut {
		err = fmt.Errorf("%w after %v: %w", errProbeTimeout, d, err)
	}
	return t.contract(resp, err)
}

// errProbeTimeout marks a probe cut off by ProbeTimeout.
var errProbeTimeout = errors.New("breaker: probe timed out")

// send passes req to the next RoundTripper and holds it to its contract: a
// response or an error, never both, never neither.
func (t *Transport) send(req *http.Request) (*http.Response, error) {
	return t.contract(t.next.RoundTrip(req))
}

// contract holds an answer of the next RoundTripper to its contract.
func (t *Transport) contract(resp *http.Response, err error) (*http.Response, error) {
	switch {
	case err != nil && resp != nil:
		if resp.Body != nil {
			resp.Body.Close()
		}
		return nil, err
	case err == nil && resp == nil:
		return nil, errNoResponse
	}
	return resp, err
}

// refuse answers a request the breaker does not let through.
func (t *Transport) refuse(req *http.Request, h *host, r *OpenError) (*http.Response, error) {
	// The RoundTripper contract: the body is closed even when nothing is
	// sent.
	if req.Body != nil {
		req.Body.Close()
	}
	if f := t.hooks.OnReject; f != nil {
		f(h.label, req)
	}
	// A caller that loops on refusals must not keep the processor from
	// the goroutines with real work, such as the one whose probe's answer
	// has just come (see the package doc).
	runtime.Gosched()
	return nil, r
}

// deliver calls the hooks for the host's pending transitions and passes the
// answer on. If a hook panics, the response is closed before the panic
// goes on up: the caller will never see it.
func (t *Transport) deliver(h *host, resp *http.Response, err error) (*http.Response, error) {
	if !h.pending.Load() {
		return resp, err
	}
	ok := false
	defer func() {
		if !ok && resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
	}()
	h.deliver()
	ok = true
	return resp, err
}

// outcome is what an answer says about the host.
type outcome int8

const (
	excluded  outcome = iota // neither: canceled, or refused below
	succeeded                // the host answered, 1xx–4xx but 429
	failed                   // verdict.Kind.Failure
)

// The outcomes as gobreaker is told them: nil is a success.
var (
	errFailed   = errors.New("breaker: failed")
	errExcluded = errors.New("breaker: excluded")
)

func (o outcome) err() error {
	switch o {
	case failed:
		return errFailed
	case excluded:
		return errExcluded
	}
	return nil
}

// judge reads the verdict of a logical request's answer.
func (t *Transport) judge(req *http.Request, resp *http.Response, err error) outcome {
	switch k := verdict.Of(req, resp, err).Kind; {
	case k == verdict.Canceled || k == verdict.Refused:
		return excluded
	case k.Failure():
		return failed
	}
	return succeeded
}

// retryAfter returns how long a Retry-After on resp asks the breaker to stay
// open, within the settings, or 0.
func (t *Transport) retryAfter(resp *http.Response) time.Duration {
	if resp == nil || t.s.MaxRetryAfter < 0 {
		return 0
	}
	d, ok := verdict.RetryAfter(resp.Header, time.Now())
	if !ok {
		return 0
	}
	return min(d, t.s.MaxRetryAfter)
}

// HostStats is the state of one host's breaker, as [Transport.Stats] reads
// it.
type HostStats struct {
	// Host is the host as host:port, as the hooks and metrics name it.
	Host string
	// State is the state a request would find now. An open breaker whose
	// open period is over reads HalfOpen: the next request goes through as
	// a probe (and only then does gobreaker move, and the hook hear of it).
	State State
	// OpenFor is the time left in the open period; 0 unless State is Open.
	OpenFor time.Duration
	// OpenPeriod is the length of the current open period while open or
	// half-open, else of the last one; 0 if the breaker never opened.
	OpenPeriod time.Duration
	// Requests and Failures are the outcomes counted in the rolling window
	// (Failures are among Requests), and ConsecutiveFailures the run of
	// failures that ends the window: what the trip rules look at. They are
	// counted while the breaker is closed and start again from 0 whenever it
	// changes state.
	Requests, Failures, ConsecutiveFailures int
}

// Stats returns the state of every host's breaker, by host. It takes each
// host's lock briefly and never moves a breaker on.
func (t *Transport) Stats() []HostStats {
	var out []HostStats
	t.hosts.Range(func(_ string, h *host) bool {
		out = append(out, h.stats())
		return true
	})
	slices.SortFunc(out, func(a, b HostStats) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// CloseIdleConnections closes the idle connections of the next RoundTripper
// if it has such a method, so that http.Client.CloseIdleConnections reaches
// through this layer. The layer never calls it on its own.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
