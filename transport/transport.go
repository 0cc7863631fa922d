package transport

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/metrics"
	"github.com/ebb-go/ebb/retry"
)

// Transport is the chain [New] builds: an http.RoundTripper that any
// http.Client can wear, and a window on the state of its layers
// ([Transport.Snapshot]). It is safe for concurrent use.
type Transport struct {
	rt       http.RoundTripper // the outermost layer
	breaker  *breaker.Transport
	retry    *retry.Transport
	limiter  *limiter.Transport
	settings Settings
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns base wearing the ebb chain (see the package doc). A nil base is
// http.DefaultTransport. New panics if an option holds invalid settings;
// settings from outside the program come through [FromEnv], which reports
// them as errors instead.
func New(base http.RoundTripper, opts ...Option) *Transport {
	c := newConfig(opts)
	if err := c.validate(); err != nil {
		panic(err)
	}
	var m *metrics.Metrics
	if c.registry != nil {
		var err error
		if m, err = metrics.New(c.registry, metrics.Options{Namespace: c.namespace, NativeHistograms: c.native}); err != nil {
			panic(fmt.Sprintf("transport: %v", err))
		}
	}
	t := &Transport{}
	// The layers, outermost first, as the package doc draws them; a layer
	// that is off is left out rather than run as a pass-through.
	var layers []Middleware
	if !c.breaker.Disabled {
		hooks := breakerLogHooks(c.logger)
		if m != nil {
			hooks = joinBreakerHooks(hooks, m.BreakerHooks())
		}
		layers = append(layers, func(next http.RoundTripper) http.RoundTripper {
			t.breaker = breaker.New(next, c.breaker, breaker.WithHooks(hooks))
			if m != nil {
				m.WatchBreaker(t.breaker)
			}
			return t.breaker
		})
	}
	retryHooks := logHooks(c.logger)
	if m != nil {
		retryHooks = joinRetryHooks(retryHooks, m.RetryHooks())
	}
	layers = append(layers, func(next http.RoundTripper) http.RoundTripper {
		t.retry = retry.New(next, c.retry, retry.WithHooks(retryHooks))
		return t.retry
	})
	if c.limiter.Profile != limiter.Off {
		var lopts []limiter.Option
		if m != nil {
			lopts = append(lopts, limiter.WithHooks(m.LimiterHooks()))
		}
		layers = append(layers, func(next http.RoundTripper) http.RoundTripper {
			t.limiter = limiter.New(next, c.limiter, lopts...)
			if m != nil {
				m.WatchLimiter(t.limiter)
			}
			return t.limiter
		})
	}
	t.rt = Chain(base, layers...)
	t.settings = c.settings(t)
	return t
}

// errNoURL answers a request without a URL, as net/http does.
var errNoURL = errors.New("transport: nil Request.URL")

// RoundTrip sends req through the chain. A request without a URL is an
// error, as net/http has it, rather than a panic in a layer.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errNoURL
	}
	return t.rt.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of the base transport,
// if it has any, through the layers, each of which passes the call on;
// http.Client.CloseIdleConnections calls it. The chain never calls it on
// its own: that is for whoever owns the base.
func (t *Transport) CloseIdleConnections() {
	if ci, ok := t.rt.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// NewClient returns an http.Client whose transport is [New] over a transport
// of its own: a clone of http.DefaultTransport that keeps up to 64 idle
// connections per host instead of 2, so that a worker's concurrent requests
// to one cluster reuse their connections rather than churn through new ones.
func NewClient(opts ...Option) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: New(base, opts...)}
}

// Of returns the ebb chain an http.Client wears, as [NewClient] builds it or
// as a caller set it with &http.Client{Transport: transport.New(...)}; nil
// when the client's transport is not one.
func Of(c *http.Client) *Transport {
	if c == nil {
		return nil
	}
	t, _ := c.Transport.(*Transport)
	return t
}
