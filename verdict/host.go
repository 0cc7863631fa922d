package verdict

import (
	"net"
	"net/http"
	"strings"
)

// Host identifies the server a request goes to, the unit every per-host
// structure of ebb (breaker, limiter, retry budget, metrics) is keyed by. It
// is comparable and built without allocating, so it serves as a map key on
// the hot path; [Host.Label] gives its canonical host:port form.
type Host struct {
	// Scheme is the URL scheme, such as "https".
	Scheme string
	// Addr is the URL's host as the request spelt it, with or without a
	// port. It never holds userinfo: net/url keeps that apart.
	Addr string
}

// HostOf returns the host of a request.
func HostOf(req *http.Request) Host {
	if req.URL == nil {
		return Host{Addr: req.Host}
	}
	return Host{Scheme: req.URL.Scheme, Addr: req.URL.Host}
}

// Label returns the host as host:port in lower case, with the scheme's
// default port filled in (example.com:443): the value of the "host" label of
// ebb's metrics. It allocates; callers cache it per Host.
func (h Host) Label() string {
	host, port, err := net.SplitHostPort(h.Addr)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(h.Addr, "["), "]")
		port = ""
	}
	if port == "" {
		switch strings.ToLower(h.Scheme) {
		case "https", "wss":
			port = "443"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

// String returns scheme://host:port.
func (h Host) String() string {
	scheme := strings.ToLower(h.Scheme)
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + h.Label()
}
