package breaker

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebb-go/ebb/verdict"
	"github.com/sony/gobreaker/v2"
)

// Transport is the breaker layer: an http.RoundTripper that keeps one circuit
// breaker per host in front of the next RoundTripper. Create it with [New].
// It is safe for concurrent use.
type Transport struct {
	next  http.RoundTripper
	s     Settings // with defaults filled in
	hooks Hooks
	// epoch is the origin of every entry's openUntil. Durations since it
	// come from the monotonic clock, so a jump of the wall clock neither
	// shortens nor prolongs an open period.
	epoch time.Time

	// hosts is read without a lock on every request; writers copy it under
	// mu and swap it in. New hosts are rare, lookups are not.
	hosts atomic.Pointer[map[verdict.Host]*entry]
	mu    sync.Mutex
	// labels holds every live entry by its host:port label; guarded by mu.
	// Different spellings of one host (Example.com, example.com:80) share
	// the entry, so that one server has one breaker and one metrics series.
	labels map[string]*entry
}

var _ http.RoundTripper = (*Transport)(nil)

// Hooks are told what the breaker does, so that metrics and logs can follow
// it without this package knowing them. host is the host's label, host:port,
// as in ebb's metrics. No hook is ever called under a lock of this package or
// of gobreaker, so a hook may call [Transport.State]. A nil hook costs
// nothing.
type Hooks struct {
	// OnStateChange is called for every transition of a host's breaker.
	// The calls for one host never overlap and come in the order of the
	// transitions; they are made by whichever request goroutine finds them
	// pending, right after the transition. Transitions are lazy, as in
	// gobreaker: an open breaker turns half-open when a request or a call
	// to State finds its open period over, not when the period ends.
	OnStateChange func(host string, from, to State)
	// OnReject is called on the refused request's goroutine for every
	// request the breaker refuses. Drain operations let through an open
	// breaker are not refusals.
	OnReject func(host string)
	// OnEvict is called when a host's breaker is dropped to make room for
	// another host (see the package doc), so that per-host series can be
	// dropped too. A later request to the host starts a new, closed breaker.
	OnEvict func(host string)
}

// Option configures a Transport beyond its Settings.
type Option interface{ apply(*Transport) }

type optionFunc func(*Transport)

func (f optionFunc) apply(t *Transport) { f(t) }

// WithHooks sets the functions told about transitions, refusals and
// evictions.
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
	t := &Transport{
		next:   next,
		s:      s.withDefaults(),
		epoch:  time.Now(),
		labels: make(map[string]*entry),
	}
	t.hosts.Store(&map[verdict.Host]*entry{})
	for _, o := range opts {
		o.apply(t)
	}
	return t
}

// Settings returns the settings in force, with the defaults filled in.
func (t *Transport) Settings() Settings { return t.s }

// RoundTrip sends req through the breaker of its host. While the breaker is
// closed, or for a probe while it is half-open, req goes to the next
// RoundTripper and its answer is returned as it is; the outcome is counted
// (see the package doc). Otherwise req is refused: nothing is sent, its body
// is closed, and the error is an [*OpenError] matching [ErrOpen] and
// verdict.ErrRefused. Drain operations pass an open or half-open breaker
// uncounted. req is never modified.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.s.Disabled {
		return t.next.RoundTrip(req)
	}
	e := t.entry(verdict.HostOf(req))
	if !e.used.Load() {
		e.used.Store(true)
	}
	// An open breaker refuses here, before gobreaker's lock: a storm of
	// refused requests does not queue on it, and the open period can run
	// past gobreaker's fixed timeout when Retry-After asked for more.
	if until := e.openUntil.Load(); until != 0 {
		if left := time.Duration(until) - time.Since(t.epoch); left >= 0 {
			return t.refuse(req, e, Open, left)
		}
	}
	if State(e.state.Load()) != Closed && drain(req) {
		return t.send(req)
	}

	// Execute rather than the two-step breaker's Allow: Allow returns a
	// closure that escapes, one allocation per request, where this
	// function literal stays on the stack (see the package doc).
	var (
		resp *http.Response
		err  error
	)
	_, berr := e.cb.Execute(func() (struct{}, error) {
		resp, err = t.send(req)
		return struct{}{}, t.judge(req, resp, err)
	})
	if e.pending.Load() {
		e.deliver()
	}
	switch berr {
	case gobreaker.ErrOpenState:
		// The breaker tripped between the check above and Execute.
		left := max(time.Duration(e.openUntil.Load())-time.Since(t.epoch), 0)
		return t.refuse(req, e, Open, left)
	case gobreaker.ErrTooManyRequests:
		return t.refuse(req, e, HalfOpen, 0)
	}
	return resp, err
}

// send passes req to the next RoundTripper and holds it to its contract: a
// response or an error, never both, never neither.
func (t *Transport) send(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
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

// refuse answers a request the breaker does not let through, unless it is a
// drain operation, which goes through uncounted.
func (t *Transport) refuse(req *http.Request, e *entry, s State, left time.Duration) (*http.Response, error) {
	if drain(req) {
		return t.send(req)
	}
	// The RoundTripper contract: the body is closed even when nothing is
	// sent.
	if req.Body != nil {
		req.Body.Close()
	}
	if h := t.hooks.OnReject; h != nil {
		h(e.label)
	}
	return nil, &OpenError{Host: e.name, State: s, Remaining: left}
}

// drain reports whether req removes load from the cluster (see the package
// doc). It is only asked once the breaker is not closed, so the happy path
// does not pay for the route lookup.
func drain(req *http.Request) bool {
	return req.URL != nil && verdict.RouteOf(req.URL.Path).Drain()
}

// Outcomes as gobreaker sees them: nil is a success, errExcluded is neither
// success nor failure, any other error a failure.
var (
	errExcluded error = outcome{}
	errFailed   error = outcome{failed: true}
)

// outcome carries a counted result to gobreaker. A failure with a
// Retry-After worth lengthening the open period for carries it along, to be
// picked up under gobreaker's lock if this very failure trips the breaker.
type outcome struct {
	failed     bool
	retryAfter time.Duration
}

func (o outcome) Error() string { return "breaker: outcome" }

// judge reads the verdict of a logical request's answer.
func (t *Transport) judge(req *http.Request, resp *http.Response, err error) error {
	a := verdict.Of(req, resp, err)
	switch {
	case a.Kind == verdict.Canceled || a.Kind == verdict.Refused:
		return errExcluded
	case !a.Kind.Failure():
		return nil
	}
	if resp != nil && t.s.MaxOpenTimeout > t.s.OpenTimeout {
		if d, ok := verdict.RetryAfter(resp.Header, time.Now()); ok && d > t.s.OpenTimeout {
			return outcome{failed: true, retryAfter: min(d, t.s.MaxOpenTimeout)}
		}
	}
	return errFailed
}

func isExcluded(err error) bool { return err == errExcluded }

// ready is gobreaker's ReadyToTrip: the two trip rules of the Settings.
func (t *Transport) ready(c gobreaker.Counts) bool {
	if n := t.s.ConsecutiveFailures; n > 0 && c.ConsecutiveFailures >= uint32(n) {
		return true
	}
	if t.s.FailureRatio < 0 {
		return false
	}
	// Exclusions are in c.Requests but say nothing of the host: the ratio
	// is over the requests that were judged.
	n := c.TotalSuccesses + c.TotalFailures
	return n >= uint32(t.s.MinRequests) && float64(c.TotalFailures) >= t.s.FailureRatio*float64(n)
}

// State returns the state of a host's breaker. host is host:port as the hooks
// give it, or a URL such as http://example.com:8080. A host without a
// breaker reads Closed, as its first request would find it. Like a request,
// State may move an open breaker whose period is over to half-open.
func (t *Transport) State(host string) State {
	if strings.Contains(host, "://") {
		if u, err := url.Parse(host); err == nil {
			host = verdict.Host{Scheme: u.Scheme, Addr: u.Host}.Label()
		}
	}
	t.mu.Lock()
	e := t.labels[host]
	t.mu.Unlock()
	if e == nil {
		return Closed
	}
	if until := e.openUntil.Load(); until != 0 && time.Duration(until) >= time.Since(t.epoch) {
		return Open
	}
	s := State(e.cb.State())
	if e.pending.Load() {
		e.deliver()
	}
	return s
}

// CloseIdleConnections closes the idle connections of the next RoundTripper
// if it has such a method, so that http.Client.CloseIdleConnections reaches
// through this layer. The layer never calls it on its own.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
