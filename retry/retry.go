package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/ebb-go/ebb/internal/bounded"
	"github.com/ebb-go/ebb/internal/hosts"
	"github.com/ebb-go/ebb/verdict"
)

// Transport is the retry layer: an http.RoundTripper that runs the attempts
// of each logical request on the next RoundTripper. Create it with [New]. It
// is safe for concurrent use.
type Transport struct {
	next   http.RoundTripper
	policy Policy // with defaults filled in
	hooks  Hooks
	budget bool
	hosts  hosts.Table[hostState]
	epoch  time.Time // origin of the monotonic clock behind Event.Elapsed
}

var _ http.RoundTripper = (*Transport)(nil)

// Option configures a Transport beyond its Policy.
type Option interface{ apply(*Transport) }

type optionFunc func(*Transport)

func (f optionFunc) apply(t *Transport) { f(t) }

// WithHooks sets the functions told about attempts, retries and outcomes.
func WithHooks(h Hooks) Option { return optionFunc(func(t *Transport) { t.hooks = h }) }

// New returns a retry layer in front of next (http.DefaultTransport when
// nil). It panics if p is invalid: check settings from outside the program
// with [Policy.Validate] first.
func New(next http.RoundTripper, p Policy, opts ...Option) *Transport {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	t := &Transport{next: next, policy: p.withDefaults(), budget: p.BudgetRatio >= 0, epoch: time.Now()}
	t.hosts = hosts.Table[hostState]{
		New:      t.newHost,
		Retire:   func(h *hostState) bool { return h.budget.full() },
		Overflow: func() *hostState { return t.newHost(verdict.Other) },
	}
	for _, o := range opts {
		if o != nil {
			o.apply(t)
		}
	}
	return t
}

// CloseIdleConnections closes the idle connections of the next RoundTripper
// if it has such a method, so that http.Client.CloseIdleConnections reaches
// through this layer. The layer never calls it on its own.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Policy returns the policy in force, with the defaults filled in.
func (t *Transport) Policy() Policy { return t.policy }

// drainLimit and drainTimeout bound how much of a discarded response is
// read, and for how long, so that its connection can be reused; beyond
// either the connection is closed instead.
const (
	drainLimit   = 4 << 10
	drainTimeout = verdict.PeekTimeout
)

// RoundTrip sends req, and again as the policy allows. It returns the last
// response with a nil error, whatever its status, or an [*Error] wrapping the
// last transport error or the context's error. req is never modified: the
// first attempt sends it as it is, every later attempt a clone with a fresh
// body from req.GetBody.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := call{t: t, req: req, ctx: req.Context(), max: t.policy.MaxAttempts}
	if n, ok := c.ctx.Value(attemptsKey{}).(int); ok {
		c.max = n
	}
	c.host = t.hosts.Get(verdict.HostOf(req))
	if t.budget {
		c.host.budget.request()
	}
	c.ev = Event{Host: c.host.label}
	if t.hooks.any() {
		c.ev.Route = c.route()
		if t.hooks.OnDone != nil {
			c.start = time.Since(t.epoch)
		}
	}
	return c.run()
}

// call is the state of one logical request.
type call struct {
	t    *Transport
	req  *http.Request // the caller's
	ctx  context.Context
	host *hostState
	max  int

	routed bool
	rt     verdict.Route
	// longPoll is the request's long-poll wait (verdict.LongPoll), once
	// polled says it was read.
	polled   bool
	longPoll time.Duration

	bo      *backoff.ExponentialBackOff // only once a retry is due
	attempt int
	// kept is the last answer, held in memory while the next attempt is
	// on its way, to stand in for it if that attempt never leaves.
	kept  *http.Response
	keptV verdict.Attempt
	start time.Duration // since t.epoch, when OnDone wants Elapsed
	// reached says an attempt before the current one may have reached
	// the server and been carried out (see Error.Reached).
	reached bool
	ev      Event
}

func (c *call) run() (*http.Response, error) {
	cur := c.req
	for {
		c.attempt++
		resp, err := c.send(cur)
		a := verdict.Of(c.req, resp, err)
		c.ev.Request, c.ev.Attempt, c.ev.Verdict = cur, c.attempt, a
		c.notify(c.t.hooks.OnAttempt, resp, nil)

		if kept := c.kept; kept != nil {
			c.kept = nil
			if a.Kind == verdict.Canceled && a.NotSent && errors.Is(c.ctx.Err(), context.DeadlineExceeded) {
				// The deadline passed while this attempt waited inside the
				// process (for a permit of the limiter): it never reached
				// the server, so the last answer stands, as it would have
				// had the wait been known in advance. An attempt that may
				// have reached the server gets its own outcome instead.
				return c.finish(StopDeadline, kept, nil, c.keptV)
			}
		}

		delay, stop := c.plan(resp, a)
		var next *http.Request
		if stop == keepGoing {
			var gerr error
			if next, gerr = nextAttempt(c.req); gerr != nil {
				stop = StopBody
			}
		}
		if stop != keepGoing {
			return c.finish(stop, resp, err, a)
		}

		c.kept, c.keptV = keep(resp), a
		if !a.NotSent && (a.Kind == verdict.TransportError || a.Kind == verdict.Unavailable) {
			c.reached = true
		}
		c.ev.Delay = delay
		c.notify(c.t.hooks.OnRetry, nil, next)
		if werr := sleep(c.ctx, delay); werr != nil {
			closeBody(next)
			// The logical request ends canceled, whatever its last
			// attempt said: that is what the caller asked for.
			werr = fmt.Errorf("waiting %v to retry after %v: %w", delay, a.Kind, werr)
			return c.finish(StopCanceled, nil, werr, verdict.Attempt{Kind: verdict.Canceled, Err: werr})
		}
		cur = next
	}
}

// send runs one attempt on the next RoundTripper, bounded by the policy's
// AttemptTimeout when it has one.
func (c *call) send(req *http.Request) (*http.Response, error) {
	d := c.t.policy.AttemptTimeout
	if d <= 0 {
		return c.t.next.RoundTrip(req)
	}
	if !c.polled {
		// Read from the body once per logical request, not per attempt.
		c.polled, c.longPoll = true, verdict.LongPoll(c.req, c.route())
	}
	d += c.longPoll
	if dl, ok := c.ctx.Deadline(); ok && time.Until(dl) <= d {
		return c.t.next.RoundTrip(req)
	}
	resp, _, err := bounded.RoundTrip(c.t.next, req, d, true)
	return resp, err
}

// finish ends the logical request: it tells OnDone and returns the answer.
func (c *call) finish(stop Stop, resp *http.Response, err error, a verdict.Attempt) (*http.Response, error) {
	c.ev.Verdict, c.ev.Stop = a, stop
	if c.t.hooks.OnDone != nil {
		c.ev.Elapsed = time.Since(c.t.epoch) - c.start
		c.notify(c.t.hooks.OnDone, resp, nil)
	}
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, &Error{Host: c.host.label, Attempts: c.ev.Attempt, Err: err, Reached: c.reached}
	}
	return resp, nil
}

// notify calls a hook with the current event. A hook that panics leaves
// nothing behind: the response and the request body this call holds are
// closed before the panic goes on to the caller.
func (c *call) notify(h func(Event), resp *http.Response, next *http.Request) {
	if h == nil {
		return
	}
	ok := false
	defer func() {
		if !ok {
			if resp != nil && resp.Body != nil {
				resp.Body.Close()
			}
			closeBody(next)
		}
	}()
	h(c.ev)
	ok = true
}

// route returns the request's route, worked out once per logical request.
func (c *call) route() verdict.Route {
	if !c.routed {
		c.routed = true
		if c.req.URL != nil {
			c.rt = verdict.RouteOf(c.req.URL.Path)
		}
	}
	return c.rt
}

// plan decides what follows an attempt: the delay before the next one, or
// why there is none. It draws on the host's budget only when a retry is
// otherwise certain.
func (c *call) plan(resp *http.Response, a verdict.Attempt) (time.Duration, Stop) {
	p := &c.t.policy
	switch {
	case !c.retryable(a):
		return 0, StopAnswered
	case c.attempt >= c.max:
		return 0, StopAttempts
	case c.req.Body != nil && c.req.Body != http.NoBody && c.req.GetBody == nil:
		return 0, StopBody
	}
	if c.bo == nil {
		c.bo = p.newBackOff()
	}
	delay := c.bo.NextBackOff()
	c.ev.Source = SourceBackoff
	if resp != nil {
		if ra, ok := verdict.RetryAfter(resp.Header, time.Now()); ok {
			if ra > p.MaxRetryAfter {
				return 0, StopRetryAfter
			}
			if ra > delay {
				delay, c.ev.Source = ra, SourceRetryAfter
			}
		}
	}
	// The deadline is the caller's, or the bound of a breaker's probe this
	// request is, whichever comes first.
	if dl, ok := bounded.Deadline(c.ctx); ok && !time.Now().Add(delay).Before(dl) {
		return 0, StopDeadline
	}
	if c.t.budget && a.Kind != verdict.Backpressure && !c.host.budget.withdraw() {
		return 0, StopBudget
	}
	return delay, keepGoing
}

// retryable reports whether the verdict of an attempt calls for another
// attempt, leaving aside the limits of the policy.
func (c *call) retryable(a verdict.Attempt) bool {
	switch a.Kind {
	case verdict.Backpressure:
		// Refused before any work was done: safe for any method. A full
		// disk does not clear in seconds; retrying only adds load.
		return !a.OutOfDisk
	case verdict.Unavailable:
		return c.safe()
	case verdict.TransportError:
		return a.NotSent || c.safe()
	}
	return false
}

// safe is verdict.SafeToRepeat with the route worked out once.
func (c *call) safe() bool {
	return verdict.SafeByRequest(c.req) || c.route().Safe()
}

// nextAttempt clones req for another attempt, with a fresh body.
func nextAttempt(req *http.Request) (*http.Request, error) {
	next := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		next.Body = body
	}
	return next, nil
}

func closeBody(req *http.Request) {
	if req != nil && req.Body != nil {
		req.Body.Close()
	}
}

// keep reads a little of a response that is about to be retried and closes
// it, so that its connection goes back to the pool during the wait; both
// the bytes and the time it reads are bounded. When the whole body fits in
// drainLimit, it returns a copy of the response holding the body in memory,
// to stand in for the next attempt if that one never leaves; otherwise nil.
func keep(resp *http.Response) *http.Response {
	if resp == nil || resp.Body == nil {
		return nil
	}
	data, eof, _ := bounded.Read(resp.Body, drainLimit, drainTimeout)
	resp.Body.Close()
	if !eof {
		return nil
	}
	kept := *resp
	kept.Body = io.NopCloser(bytes.NewReader(data))
	return &kept
}

// sleep waits for d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
