package transport

import "net/http"

// RoundTripperFunc adapts a function to an http.RoundTripper, as
// http.HandlerFunc does for handlers.
type RoundTripperFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f(req).
func (f RoundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// Middleware wraps a RoundTripper in another, such as a layer of ebb or one
// of the caller's own.
type Middleware func(next http.RoundTripper) http.RoundTripper

// Chain returns base wrapped in the middlewares, the first outermost:
// Chain(base, a, b) sends a request through a, then b, then base. A nil base
// is http.DefaultTransport.
func Chain(base http.RoundTripper, mw ...Middleware) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	rt := base
	for i := len(mw) - 1; i >= 0; i-- {
		rt = mw[i](rt)
	}
	return rt
}
