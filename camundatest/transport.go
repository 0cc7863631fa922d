package camundatest

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
)

// Transport returns an http.RoundTripper that serves requests with the
// gateway's handler in memory, in the calling goroutine: no socket, no
// goroutine, so that tests can run under testing/synctest, where time spent
// waiting (service time, long polls, timed faults) passes at once. The
// request's host is ignored.
//
// Network failures look as they do through net/http: after Close and during
// a Refuse outage, RoundTrip fails with a *net.OpError whose Op is "dial"
// wrapping ECONNREFUSED; during a Reset outage, after the request was read,
// with a *net.OpError whose Op is "read" wrapping ECONNRESET. When the
// request's context ends before the answer, RoundTrip returns the context's
// error.
func (g *Gateway) Transport() http.RoundTripper { return memTransport{g} }

type memTransport struct{ g *Gateway }

// memAddr stands for the gateway's address in errors.
var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 26500}

func (t memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
	}
	g := t.g
	g.mu.Lock()
	down := g.closed || g.outage == Refuse
	g.mu.Unlock()
	if down {
		closeBody()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: memAddr, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeBody()
		return nil, err
	}

	// Serve a copy, as a server would see the request; the caller's stays
	// untouched.
	r := req.Clone(ctx)
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "127.0.0.1:1"
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	w := &memWriter{header: make(http.Header)}
	g.serve(w, r)
	closeBody()

	if w.reset {
		return nil, &net.OpError{Op: "read", Net: "tcp", Addr: memAddr, Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	}
	if !w.wrote {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		w.WriteHeader(http.StatusOK)
	}
	resp := &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(bytes.NewReader(w.body.Bytes())),
		ContentLength: int64(w.body.Len()),
		Request:       req,
	}
	if req.Method == http.MethodHead {
		resp.Body = http.NoBody
	}
	return resp, nil
}

// memWriter records an answer for memTransport.
type memWriter struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
	reset  bool
}

func (w *memWriter) Header() http.Header { return w.header }

func (w *memWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote, w.status = true, status
	// What is sent is fixed now, as on a wire.
	w.header = w.header.Clone()
}

func (w *memWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(p)
}
