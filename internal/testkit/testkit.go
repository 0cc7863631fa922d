package testkit

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Func adapts a function to http.RoundTripper.
type Func func(*http.Request) (*http.Response, error)

// RoundTrip calls f(req).
func (f Func) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// Step answers one attempt.
type Step func(*http.Request) (*http.Response, error)

// Problem bodies as Camunda's gateway sends them.
const (
	// ResourceExhaustedBody is Camunda 8.8.3's backpressure problem.
	ResourceExhaustedBody = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,"detail":"Expected to handle request, but all retries have been exhausted","instance":"/v2/process-instances"}`
	// UnavailableBody is the gateway's 503 when a partition has no leader.
	UnavailableBody = `{"type":"about:blank","title":"UNAVAILABLE","status":503,"detail":"partition unavailable"}`
	// OutOfDiskBody is backpressure from a broker whose disk is full.
	OutOfDiskBody = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,"detail":"Cannot accept requests for partition 1. Broker is out of disk space"}`
)

// Respond returns a step answering code with the given content type (none
// when empty), body and header pairs (name, value, name, value...).
func Respond(code int, contentType, body string, header ...string) Step {
	return func(req *http.Request) (*http.Response, error) {
		return Response(req, code, contentType, body, header...), nil
	}
}

// Response builds a response to req as net/http would return it.
func Response(req *http.Request, code int, contentType, body string, header ...string) *http.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.Add(header[i], header[i+1])
	}
	return &http.Response{
		Status:     strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode: code,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        h,
		Body:          NewBody(body),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// Fail returns a step failing with err.
func Fail(err error) Step {
	return func(*http.Request) (*http.Response, error) { return nil, err }
}

// The canned steps, one per row of the verdict table.
var (
	OK                = Respond(200, "application/json", `{"ok":true}`)
	ResourceExhausted = Respond(503, "application/problem+json", ResourceExhaustedBody)
	TooManyRequests   = Respond(429, "", "")
	Unavailable       = Respond(503, "application/problem+json", UnavailableBody)
	BadGateway        = Respond(502, "", "")
	GatewayTimeout    = Respond(504, "", "")
	ServerError       = Respond(500, "application/problem+json", `{"title":"java.lang.NullPointerException","status":500}`)
	NotFound          = Respond(404, "application/problem+json", `{"title":"NOT_FOUND","status":404}`)
	OutOfDisk         = Respond(503, "application/problem+json", OutOfDiskBody)
	DialRefused       = Fail(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	Reset             = Fail(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET})
)

// Canceled is a step that fails with the request's context error, as
// net/http does when the caller gives up.
func Canceled(req *http.Request) (*http.Response, error) {
	<-req.Context().Done()
	return nil, context.Cause(req.Context())
}

// Body is a response or request body that records how it was used.
type Body struct {
	r      io.Reader
	read   atomic.Int64
	closed atomic.Bool
	Err    error // returned by Read once the content is exhausted, if set
}

// NewBody returns a Body reading s.
func NewBody(s string) *Body { return &Body{r: bytes.NewReader([]byte(s))} }

// Read reads the content, then Err or io.EOF.
func (b *Body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	if err == io.EOF && b.Err != nil {
		err = b.Err
	}
	return n, err
}

// Close records the close.
func (b *Body) Close() error { b.closed.Store(true); return nil }

// Closed reports whether Close was called.
func (b *Body) Closed() bool { return b.closed.Load() }

// BytesRead returns how many bytes were read.
func (b *Body) BytesRead() int64 { return b.read.Load() }

// Call is what a Script received for one attempt.
type Call struct {
	At     time.Time
	Req    *http.Request
	Body   []byte // the request body, read in full
	Header http.Header
	Resp   *http.Response // what the step returned, nil on error
	// RespBody is the response's body as the step made it, when it is a
	// [*Body]: layers above may have wrapped Resp.Body since.
	RespBody *Body
}

// Script is an in-memory RoundTripper answering each attempt with the next
// of its steps; the last step repeats. It reads and closes each request's
// body and records every call.
type Script struct {
	Steps []Step

	mu    sync.Mutex
	calls []Call
}

// NewScript returns a Script with the given steps.
func NewScript(steps ...Step) *Script { return &Script{Steps: steps} }

// RoundTrip answers req with the next step.
func (s *Script) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	s.mu.Lock()
	i := min(len(s.calls), len(s.Steps)-1)
	s.calls = append(s.calls, Call{At: time.Now(), Req: req, Body: body, Header: req.Header.Clone()})
	n := len(s.calls) - 1
	step := s.Steps[i]
	s.mu.Unlock()
	resp, err := step(req)
	s.mu.Lock()
	s.calls[n].Resp = resp
	if resp != nil {
		s.calls[n].RespBody, _ = resp.Body.(*Body)
	}
	s.mu.Unlock()
	return resp, err
}

// Calls returns a copy of the calls so far.
func (s *Script) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count returns the number of calls so far.
func (s *Script) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Bodies returns the response bodies the script handed out that are
// [*Body] values, in order.
func (s *Script) Bodies() []*Body {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Body
	for _, c := range s.calls {
		if c.RespBody != nil {
			out = append(out, c.RespBody)
		}
	}
	return out
}

// Gate is an in-memory RoundTripper that holds every attempt until the test
// answers it, so that a test decides what is in flight and when it returns.
// Under testing/synctest, synctest.Wait lets every attempt reach it.
type Gate struct {
	mu    sync.Mutex
	calls []*Held
}

// Held is an attempt waiting at a Gate.
type Held struct {
	Req    *http.Request
	answer chan Step
}

// RoundTrip holds req until it is answered or its context ends.
func (g *Gate) RoundTrip(req *http.Request) (*http.Response, error) {
	h := &Held{Req: req, answer: make(chan Step, 1)}
	g.mu.Lock()
	g.calls = append(g.calls, h)
	g.mu.Unlock()
	select {
	case step := <-h.answer:
		return step(req)
	case <-req.Context().Done():
		return nil, context.Cause(req.Context())
	}
}

// Take returns the attempts that reached the gate since the last Take.
func (g *Gate) Take() []*Held {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.calls
	g.calls = nil
	return c
}

// Answer releases the attempt with step.
func (h *Held) Answer(step Step) { h.answer <- step }

// Output is a bytes.Buffer safe for concurrent writes and reads: the
// stdout or stderr of a program run in a test while the test reads it.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String returns what was written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
