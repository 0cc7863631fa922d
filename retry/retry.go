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
	"github.com/ebb-go/ebb/verdict"
)

// Transport is the retry layer: an http.RoundTripper that runs the attempts
// of each logical request on the next RoundTripper. Create it with [New]. It
// is safe for concurrent use.
type Transport struct {
	next   http.RoundTripper
	policy Policy // with defaults filled in
	hooks  Hooks
	hosts  hosts
	budget bool
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
	t := &Transport{next: next, policy: p.withDefaults(), budget: p.BudgetRatio >= 0}
	t.hosts.ratio = t.policy.BudgetRatio
	t.hosts.reserv = t.policy.BudgetReserve
	for _, o := range opts {
		o.apply(t)
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

// drainLimit bounds how much of a discarded response is read so that its
// connection can be reused; beyond it the connection is closed instead.
const drainLimit = 4 << 10

// RoundTrip sends req, and again as the policy allows. It returns the last
// response with a nil error, whatever its status, or an [*Error] wrapping the
// last transport error or the context's error. req is never modified: the
// first attempt sends it as it is, every later attempt a clone with a fresh
// body from req.GetBody.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	maxAttempts := t.policy.MaxAttempts
	if n, ok := ctx.Value(attemptsKey{}).(int); ok {
		maxAttempts = n
	}
	host := t.hosts.get(verdict.HostOf(req))
	if t.budget {
		host.budget.request()
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil

	var (
		bo      *backoff.ExponentialBackOff // only once a retry is due
		attempt = 1
		cur     = req
		prev    *http.Response // the last answer, kept in memory while the next attempt runs
		prevV   verdict.Attempt
	)
	for {
		resp, err := t.next.RoundTrip(cur)
		a := verdict.Of(cur, resp, err)
		ev := Event{Request: cur, Host: host.label, Attempt: attempt, Verdict: a}
		if t.hooks.OnAttempt != nil {
			t.hooks.OnAttempt(ev)
		}
		if prev != nil && a.Kind == verdict.Canceled && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The deadline passed before the next attempt had an answer,
			// most likely while it waited for a permit of the limiter
			// below: the last answer goes back, as it would have had
			// the wait been known in advance.
			ev.Verdict, ev.Stop = prevV, StopDeadline
			if t.hooks.OnDone != nil {
				t.hooks.OnDone(ev)
			}
			return prev, nil
		}
		prev = nil

		delay, stop := t.plan(req, resp, a, attempt, maxAttempts, replayable, &bo, host, &ev)
		var next *http.Request
		if stop == keepGoing {
			var gerr error
			if next, gerr = nextAttempt(req); gerr != nil {
				stop = StopBody
			}
		}
		if stop != keepGoing {
			ev.Stop = stop
			if t.hooks.OnDone != nil {
				t.hooks.OnDone(ev)
			}
			if err != nil {
				return nil, &Error{Host: host.label, Attempts: attempt, Err: err}
			}
			return resp, nil
		}

		prev, prevV = keep(resp), a
		ev.Delay = delay
		if t.hooks.OnRetry != nil {
			t.hooks.OnRetry(ev)
		}
		if werr := sleep(ctx, delay); werr != nil {
			closeBody(next)
			ev.Stop = StopCanceled
			if t.hooks.OnDone != nil {
				t.hooks.OnDone(ev)
			}
			return nil, &Error{Host: host.label, Attempts: attempt, Err: fmt.Errorf("waiting %v to retry after %v: %w", delay, a.Kind, werr)}
		}
		attempt++
		cur = next
	}
}

// plan decides what follows an attempt: the delay before the next one, or
// why there is none. It draws on the host's budget only when a retry is
// otherwise certain.
func (t *Transport) plan(req *http.Request, resp *http.Response, a verdict.Attempt, attempt, maxAttempts int,
	replayable bool, bo **backoff.ExponentialBackOff, host *hostState, ev *Event) (time.Duration, Stop) {
	switch {
	case !retryable(req, a):
		return 0, StopAnswered
	case attempt >= maxAttempts:
		return 0, StopAttempts
	case !replayable:
		return 0, StopBody
	}
	if *bo == nil {
		*bo = t.newBackOff()
	}
	delay := (*bo).NextBackOff()
	ev.Source = SourceBackoff
	if resp != nil {
		if ra, ok := verdict.RetryAfter(resp.Header, time.Now()); ok {
			if ra > t.policy.MaxRetryAfter {
				return 0, StopRetryAfter
			}
			if ra > delay {
				delay, ev.Source = ra, SourceRetryAfter
			}
		}
	}
	if dl, ok := req.Context().Deadline(); ok && !time.Now().Add(delay).Before(dl) {
		return 0, StopDeadline
	}
	if t.budget && a.Kind != verdict.Backpressure && !host.budget.withdraw() {
		return 0, StopBudget
	}
	return delay, keepGoing
}

// retryable reports whether the verdict of an attempt of req calls for
// another attempt, leaving aside the limits of the policy.
func retryable(req *http.Request, a verdict.Attempt) bool {
	switch a.Kind {
	case verdict.Backpressure:
		// Refused before any work was done: safe for any method. A full
		// disk does not clear in seconds; retrying only adds load.
		return !a.OutOfDisk
	case verdict.Unavailable:
		return verdict.SafeToRepeat(req)
	case verdict.TransportError:
		return a.NotSent || verdict.SafeToRepeat(req)
	}
	return false
}

func (t *Transport) newBackOff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     t.policy.InitialInterval,
		RandomizationFactor: t.policy.RandomizationFactor,
		Multiplier:          t.policy.Multiplier,
		MaxInterval:         t.policy.MaxInterval,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	return b
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
// it, so that its connection goes back to the pool during the wait. When the
// whole body fits in drainLimit, it returns a copy of the response holding
// the body in memory, to hand back if the deadline passes before the next
// attempt is answered; otherwise nil.
func keep(resp *http.Response) *http.Response {
	if resp == nil || resp.Body == nil {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, drainLimit+1))
	resp.Body.Close()
	if err != nil || len(data) > drainLimit {
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
