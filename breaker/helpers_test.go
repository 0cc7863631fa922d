package breaker

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ebb-go/ebb/verdict"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rtFunc is an in-memory RoundTripper.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// scripted is the base of the unit tests: it answers each request as the
// letter in its query parameter a says, and counts what reaches it.
//
//	S  200              F  503 UNAVAILABLE problem   B  429 (backpressure)
//	C  404 client error  E  500 server error          T  transport error
//	X  canceled (the request's context is canceled)   R  refused locally
//	D  503 RESOURCE_EXHAUSTED, broker out of disk
//
// A Retry-After query parameter is copied onto the response.
type scripted struct {
	hits atomic.Int64
}

var errReset = &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}

// errFull stands for a refusal by a lower layer, such as a full limiter
// queue.
var errFull = errors.Join(errors.New("limiter: queue full"), verdict.ErrRefused)

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	s.hits.Add(1)
	if req.Body != nil {
		req.Body.Close()
	}
	q := req.URL.Query()
	a := q.Get("a")
	var resp *http.Response
	switch a {
	case "", "S":
		resp = answer(200, "", "")
	case "F":
		resp = answer(503, "application/problem+json", `{"title":"UNAVAILABLE","status":503}`)
	case "D":
		resp = answer(503, "application/problem+json",
			`{"title":"RESOURCE_EXHAUSTED","status":503,"detail":"Broker is out of disk space"}`)
	case "B":
		resp = answer(429, "", "")
	case "C":
		resp = answer(404, "application/problem+json", `{"title":"NOT_FOUND","status":404}`)
	case "E":
		resp = answer(500, "", "")
	case "T":
		return nil, errReset
	case "X":
		return nil, req.Context().Err()
	case "R":
		return nil, errFull
	default:
		panic("scripted: unknown answer " + a)
	}
	if ra := q.Get("Retry-After"); ra != "" {
		resp.Header.Set("Retry-After", ra)
	}
	resp.Request = req
	return resp, nil
}

func answer(code int, ctype, body string) *http.Response {
	h := http.Header{}
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	return &http.Response{
		StatusCode: code,
		Status:     http.StatusText(code),
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
	}
}

// request builds a request to host with answer a; X requests carry a
// canceled context.
func request(t testing.TB, host, path, a string) *http.Request {
	t.Helper()
	ctx := context.Background()
	if a == "X" {
		c, cancel := context.WithCancel(ctx)
		cancel()
		ctx = c
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+path+"?a="+a, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// send runs one request through tr and closes what it returns. It fails the
// test if the RoundTripper contract is broken.
func send(t testing.TB, tr http.RoundTripper, req *http.Request) error {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if (resp == nil) == (err == nil) {
		t.Fatalf("RoundTrip returned response %v and error %v", resp, err)
	}
	if resp != nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return err
}

// run sends one request per letter of answers to host h and returns the
// errors of the refused ones.
func run(t testing.TB, tr http.RoundTripper, h, answers string) (refused int) {
	t.Helper()
	for _, a := range answers {
		err := send(t, tr, request(t, h, "/v2/jobs/activation", string(a)))
		if errors.Is(err, ErrOpen) {
			refused++
		}
	}
	return refused
}

// closeTracker is a request body that records being closed.
type closeTracker struct {
	io.Reader
	closed atomic.Int32
}

func (c *closeTracker) Close() error { c.closed.Add(1); return nil }
