package verdict

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
)

const (
	problemJSON = "application/problem+json"

	body883 = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,` +
		`"detail":"Expected to handle request, but all retries have been exhausted","instance":"/v2/process-instances"}`
	body880activation = `{"type":"about:blank","title":"java.lang.RuntimeException","status":500,` +
		`"detail":"Unexpected error occurred during the request processing: Expected to activate jobs of type 'type', but no jobs available and at least one broker returned 'RESOURCE_EXHAUSTED'. Please try again later.",` +
		`"instance":"/zeebe/v2/jobs/activation"}`
	body86java   = `{"type":"about:blank","title":"io.camunda.zeebe.broker.client.api.RequestRetriesExhaustedException","status":429,"detail":"Expected to execute the command on one of the partitions, but all failed"}`
	bodyDisk     = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,"detail":"Cannot accept requests for partition 1. Broker is out of disk space"}`
	bodyUnavail  = `{"type":"about:blank","title":"UNAVAILABLE","status":503,"detail":"Expected to handle request, but the partition has no leader"}`
	bodyPlain500 = `{"type":"about:blank","title":"java.lang.NullPointerException","status":500,"detail":"boom"}`
)

func response(code int, contentType, body string) *http.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

func TestOfResponses(t *testing.T) {
	tests := []struct {
		name      string
		give      *http.Response
		want      Kind
		outOfDisk bool
		title     string
	}{
		{"200", response(200, "application/json", `{}`), Success, false, ""},
		{"204", response(204, "", ""), Success, false, ""},
		{"101", response(101, "", ""), Success, false, ""},
		{"302", response(302, "", ""), Success, false, ""},
		{"400 problem", response(400, problemJSON, `{"title":"INVALID_ARGUMENT","status":400}`), ClientError, false, ""},
		{"404", response(404, problemJSON, `{"title":"NOT_FOUND","status":404}`), ClientError, false, ""},
		{"409 invalid state", response(409, problemJSON, `{"title":"INVALID_STATE","status":409}`), ClientError, false, ""},
		{"409 already exists", response(409, problemJSON, `{"title":"ALREADY_EXISTS","status":409}`), ClientError, false, ""},
		{"8.6 429 RESOURCE_EXHAUSTED", response(429, problemJSON, `{"title":"RESOURCE_EXHAUSTED","status":429}`), Backpressure, false, "RESOURCE_EXHAUSTED"},
		{"8.6 429 java class title", response(429, problemJSON, body86java), Backpressure, false, "io.camunda.zeebe.broker.client.api.RequestRetriesExhaustedException"},
		{"429 no body", response(429, "", ""), Backpressure, false, ""},
		{"429 html body", response(429, "text/html", "<html>slow down</html>"), Backpressure, false, ""},
		{"429 out of disk", response(429, problemJSON, strings.Replace(bodyDisk, "503", "429", 1)), Backpressure, true, "RESOURCE_EXHAUSTED"},
		{"8.8.0 503 command", response(503, problemJSON, body883), Backpressure, false, "RESOURCE_EXHAUSTED"},
		{"8.8.0 500 activation", response(500, problemJSON, body880activation), Backpressure, false, "java.lang.RuntimeException"},
		{"8.8.3 503", response(503, problemJSON, body883), Backpressure, false, "RESOURCE_EXHAUSTED"},
		{"503 with json content type", response(503, "application/json; charset=utf-8", body883), Backpressure, false, "RESOURCE_EXHAUSTED"},
		{"503 out of disk", response(503, problemJSON, bodyDisk), Backpressure, true, "RESOURCE_EXHAUSTED"},
		{"503 UNAVAILABLE", response(503, problemJSON, bodyUnavail), Unavailable, false, "UNAVAILABLE"},
		{"502 ABORTED", response(502, problemJSON, `{"title":"ABORTED","status":502}`), Unavailable, false, ""},
		{"504 DEADLINE_EXCEEDED", response(504, problemJSON, `{"title":"DEADLINE_EXCEEDED","status":504}`), Unavailable, false, ""},
		{"500 plain", response(500, problemJSON, bodyPlain500), ServerError, false, "java.lang.NullPointerException"},
		{"501", response(501, "", ""), ServerError, false, ""},
		{"599", response(599, "", ""), ServerError, false, ""},
		// Bad bodies: the status decides.
		{"503 proxy html", response(503, "text/html", "<html><body>Service Temporarily Unavailable RESOURCE_EXHAUSTED</body></html>"), Unavailable, false, ""},
		{"503 empty body", response(503, problemJSON, ""), Unavailable, false, ""},
		{"503 no content type", response(503, "", body883), Unavailable, false, ""},
		{"503 malformed json", response(503, problemJSON, `{"title": "UNAVAIL`), Unavailable, false, ""},
		{"503 malformed json naming the signal", response(503, problemJSON, `{"title":"RESOURCE_EXHAUSTED", "status": 503,`), Backpressure, false, ""},
		{"503 json array", response(503, problemJSON, `["RESOURCE_EXHAUSTED"]`), Backpressure, false, ""},
		{"500 json null", response(500, problemJSON, `null`), ServerError, false, ""},
		{"503 title of wrong type", response(503, problemJSON, `{"title":42,"detail":"fine"}`), Unavailable, false, ""},
		{"500 html", response(500, "text/html", "<h1>RESOURCE_EXHAUSTED</h1>"), ServerError, false, ""},
		{"500 bad content type", response(500, "application/json; ; ;", body880activation), Backpressure, false, "java.lang.RuntimeException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Of(nil, tt.give, nil)
			if got.Kind != tt.want {
				t.Fatalf("Kind = %v, want %v", got.Kind, tt.want)
			}
			if got.Status != tt.give.StatusCode {
				t.Errorf("Status = %d, want %d", got.Status, tt.give.StatusCode)
			}
			if got.OutOfDisk != tt.outOfDisk {
				t.Errorf("OutOfDisk = %v, want %v", got.OutOfDisk, tt.outOfDisk)
			}
			if tt.title != "" && (got.Problem == nil || got.Problem.Title != tt.title) {
				t.Errorf("Problem = %+v, want title %q", got.Problem, tt.title)
			}
		})
	}
}

func TestOfErrors(t *testing.T) {
	canceledCtx, cancel := context.WithCancel(context.Background())
	cancel()
	reqCanceled, _ := http.NewRequestWithContext(canceledCtx, "GET", "http://h/", nil)
	req, _ := http.NewRequest("GET", "http://h/", nil)
	dialRefused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.OpError{Op: "connect", Err: syscall.ECONNREFUSED}}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

	tests := []struct {
		name    string
		req     *http.Request
		err     error
		want    Kind
		notSent bool
	}{
		{"dial refused", req, dialRefused, TransportError, true},
		{"dial refused wrapped", req, &wrapErr{dialRefused}, TransportError, true},
		{"reset after write", req, reset, TransportError, false},
		{"unexpected EOF", req, io.ErrUnexpectedEOF, TransportError, false},
		{"timeout", req, context.DeadlineExceeded, TransportError, false},
		{"caller canceled", reqCanceled, errors.New("net/http: request canceled"), Canceled, false},
		{"context canceled error", req, context.Canceled, Canceled, false},
		{"nil request", nil, reset, TransportError, false},
		{"local refusal", req, fmt.Errorf("limiter: queue full: %w", ErrRefused), Refused, true},
		{"local refusal beats cancellation", reqCanceled, &wrapErr{ErrRefused}, Refused, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Of(tt.req, nil, tt.err)
			if got.Kind != tt.want || got.NotSent != tt.notSent || got.Err != tt.err {
				t.Fatalf("Of = %+v, want kind %v notSent %v", got, tt.want, tt.notSent)
			}
		})
	}
	if got := Of(req, nil, nil); got.Kind != TransportError || got.Err == nil {
		t.Fatalf("nil response and error: %+v", got)
	}
}

type wrapErr struct{ err error }

func (e *wrapErr) Error() string { return "wrapped: " + e.err.Error() }
func (e *wrapErr) Unwrap() error { return e.err }

// countingBody counts the bytes read from it.
type countingBody struct {
	r      io.Reader
	n      int
	closed bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += n
	return n, err
}
func (b *countingBody) Close() error { b.closed = true; return nil }

func TestOfReadsNoBodyOnSuccess(t *testing.T) {
	for _, code := range []int{200, 201, 204, 302, 400, 404, 409, 502, 504} {
		cb := &countingBody{r: strings.NewReader(body883)}
		resp := &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {problemJSON}}, Body: cb}
		Of(nil, resp, nil)
		if cb.n != 0 || resp.Body != io.ReadCloser(cb) {
			t.Errorf("%d: read %d bytes, body replaced: %v", code, cb.n, resp.Body != io.ReadCloser(cb))
		}
	}
}

func TestOfSecondCallIsFree(t *testing.T) {
	cb := &countingBody{r: strings.NewReader(body883)}
	resp := &http.Response{StatusCode: 503, Header: http.Header{"Content-Type": {problemJSON}}, Body: cb}
	first := Of(nil, resp, nil)
	read := cb.n
	second := Of(nil, resp, nil)
	if cb.n != read {
		t.Fatalf("second call read %d more bytes", cb.n-read)
	}
	if first.Problem != second.Problem || first.Kind != second.Kind {
		t.Fatalf("second call differs: %+v vs %+v", first, second)
	}
	allocs := testing.AllocsPerRun(100, func() { Of(nil, resp, nil) })
	if allocs != 0 {
		t.Fatalf("second call allocates %v times", allocs)
	}
	got, _ := io.ReadAll(resp.Body)
	if string(got) != body883 {
		t.Fatalf("body after peek = %q", got)
	}
	resp.Body.Close()
	if !cb.closed {
		t.Fatal("Close did not reach the original body")
	}
}

// wrapped hands on to the body it wraps, as the attempt bound's body does.
type wrapped struct{ io.ReadCloser }

func (w wrapped) Unwrap() io.ReadCloser { return w.ReadCloser }

// A second look through a wrapper that hands on to the peeked body is free
// too: the retry layer's attempt bound wraps every response's body, and
// reading a refusal's problem again cost a parse and its allocations.
func TestOfSecondCallThroughWrapperIsFree(t *testing.T) {
	cb := &countingBody{r: strings.NewReader(body883)}
	resp := &http.Response{StatusCode: 503, Header: http.Header{"Content-Type": {problemJSON}}, Body: cb}
	first := Of(nil, resp, nil)
	read := cb.n
	resp.Body = wrapped{wrapped{resp.Body}}
	second := Of(nil, resp, nil)
	if cb.n != read {
		t.Fatalf("second call read %d more bytes", cb.n-read)
	}
	if first.Problem != second.Problem || first.Kind != second.Kind {
		t.Fatalf("second call differs: %+v vs %+v", first, second)
	}
	if allocs := testing.AllocsPerRun(100, func() { Of(nil, resp, nil) }); allocs != 0 {
		t.Fatalf("second call allocates %v times", allocs)
	}
	if got, _ := io.ReadAll(resp.Body); string(got) != body883 {
		t.Fatalf("body after peek = %q", got)
	}
}

func TestPeekKeepsEveryByte(t *testing.T) {
	// A 3 MiB problem body: far beyond MaxPeek, it must reach the caller intact.
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	body := append([]byte(`{"title":"RESOURCE_EXHAUSTED","detail":"`), big...)
	body = append(body, `"}`...)
	for _, reader := range []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"plain", func(r io.Reader) io.Reader { return r }},
		{"one byte at a time", iotest.OneByteReader},
		{"half reads", iotest.HalfReader},
	} {
		t.Run(reader.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: 503, Header: http.Header{"Content-Type": {problemJSON}},
				Body: io.NopCloser(reader.wrap(bytes.NewReader(body)))}
			a := Of(nil, resp, nil)
			// The prefix is truncated JSON, but it names the signal.
			if a.Kind != Backpressure {
				t.Errorf("Kind = %v", a.Kind)
			}
			got, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("read %d bytes (err %v), want %d identical", len(got), err, len(body))
			}
		})
	}
}

func TestPeekBodyCutShort(t *testing.T) {
	cut := errors.New("connection reset mid-body")
	partial := body883[:60]
	resp := &http.Response{StatusCode: 503, Header: http.Header{"Content-Type": {problemJSON}},
		Body: io.NopCloser(io.MultiReader(strings.NewReader(partial), iotest.ErrReader(cut)))}
	a := Of(nil, resp, nil)
	if a.Kind != Backpressure { // the prefix names RESOURCE_EXHAUSTED
		t.Fatalf("Kind = %v", a.Kind)
	}
	got, err := io.ReadAll(resp.Body)
	if string(got) != partial || !errors.Is(err, cut) {
		t.Fatalf("got %q, %v; want the partial body then the read error", got, err)
	}

	resp = &http.Response{StatusCode: 500, Header: http.Header{"Content-Type": {problemJSON}},
		Body: io.NopCloser(iotest.ErrReader(cut))}
	if a := Of(nil, resp, nil); a.Kind != ServerError {
		t.Fatalf("Kind = %v", a.Kind)
	}
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, cut) {
		t.Fatalf("err = %v", err)
	}
}

func TestKindStrings(t *testing.T) {
	want := []string{"success", "client_error", "backpressure", "unavailable", "server_error", "transport_error", "canceled", "refused"}
	for k := range NumKinds {
		if got := Kind(k).String(); got != want[k] {
			t.Errorf("Kind(%d) = %q, want %q", k, got, want[k])
		}
	}
	if Kind(200).String() != "unknown" {
		t.Error("out of range kind")
	}
	failures := map[Kind]bool{Backpressure: true, Unavailable: true, ServerError: true, TransportError: true}
	for k := range NumKinds {
		if Kind(k).Failure() != failures[Kind(k)] {
			t.Errorf("%v.Failure() = %v", Kind(k), Kind(k).Failure())
		}
	}
}

// onceReader fails the test if it is read again after it reported EOF: the
// peeked body must not touch the original once it has ended.
type onceReader struct {
	t   *testing.T
	r   io.Reader
	eof bool
}

func (o *onceReader) Read(p []byte) (int, error) {
	if o.eof {
		o.t.Fatal("the original body was read after it reported EOF")
	}
	n, err := o.r.Read(p)
	if err == io.EOF {
		o.eof = true
	}
	return n, err
}

func TestPeekDoesNotReadPastEOF(t *testing.T) {
	resp := &http.Response{StatusCode: 503, Header: http.Header{"Content-Type": {problemJSON}},
		Body: io.NopCloser(&onceReader{t: t, r: strings.NewReader(body883)})}
	Of(nil, resp, nil)
	got, err := io.ReadAll(resp.Body)
	if err != nil || string(got) != body883 {
		t.Fatalf("got %q, %v", got, err)
	}
	// Reading on after the end keeps saying EOF.
	if n, err := resp.Body.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("read after the end: %d, %v", n, err)
	}
}

func TestNotSentCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://gw:8080/v2/process-instances", nil)
	waiting := fmt.Errorf("limiter: waiting for a permit: %w", errors.Join(ErrNotSent, context.Canceled))
	if a := Of(req, nil, waiting); a.Kind != Canceled || !a.NotSent {
		t.Errorf("cancellation while waiting = %v NotSent=%v, want canceled, not sent", a.Kind, a.NotSent)
	}
	if a := Of(req, nil, context.Canceled); a.Kind != Canceled || a.NotSent {
		t.Errorf("cancellation on the wire = %v NotSent=%v, want canceled, maybe sent", a.Kind, a.NotSent)
	}
}

// An attempt's own time bound (retry's AttemptTimeout) that runs out while
// the attempt waits for a permit: the caller's context is alive, so it is a
// transport error, and one that provably never left, so any method may be
// sent again. The same bound running out on the wire may have reached the
// server.
func TestNotSentAttemptTimeout(t *testing.T) {
	req, _ := http.NewRequest("POST", "http://gw:8080/v2/process-instances", nil)
	bound := fmt.Errorf("attempt bound: %w", context.DeadlineExceeded)
	waiting := fmt.Errorf("limiter: waiting for a permit: %w", errors.Join(ErrNotSent, bound))
	if a := Of(req, nil, waiting); a.Kind != TransportError || !a.NotSent {
		t.Errorf("bound while waiting = %v NotSent=%v, want a transport error, not sent", a.Kind, a.NotSent)
	}
	if a := Of(req, nil, bound); a.Kind != TransportError || a.NotSent {
		t.Errorf("bound on the wire = %v NotSent=%v, want a transport error, maybe sent", a.Kind, a.NotSent)
	}
}

// TestStalledProblemBody: a server that sends a 503 problem and then holds
// the body open must not hold the caller: the verdict comes from what
// arrived within PeekTimeout (issue 9, defect 3).
func TestStalledProblemBody(t *testing.T) {
	url := testkit.StalledServer(t, body883)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Post(url+"/v2/process-instances", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Attempt, 1)
	go func() { done <- Of(resp.Request, resp, nil) }()
	var a Attempt
	select {
	case a = <-done:
	case <-time.After(20 * PeekTimeout):
		t.Fatal("Of waited on a stalled body")
	}
	if a.Kind != Backpressure {
		t.Fatalf("verdict = %v, want backpressure from the part that arrived", a.Kind)
	}
	got, err := io.ReadAll(resp.Body)
	if string(got) != body883 || err == nil {
		t.Fatalf("caller reads %q, %v; want the bytes that arrived, then an error", got, err)
	}
}

// TestGzipProblem: a caller that negotiates compression itself gets the
// compressed bytes, and the verdict still reads the problem (issue 9,
// defect 7).
func TestGzipProblem(t *testing.T) {
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(body883))
	zw.Close()
	raw := zb.Bytes()
	resp := &http.Response{
		StatusCode: 503,
		Header:     http.Header{"Content-Type": {problemJSON}, "Content-Encoding": {"gzip"}},
		Body:       io.NopCloser(bytes.NewReader(raw)),
	}
	a := Of(nil, resp, nil)
	if a.Kind != Backpressure || a.Problem == nil || a.Problem.Title != "RESOURCE_EXHAUSTED" {
		t.Fatalf("gzip problem read as %v, %+v", a.Kind, a.Problem)
	}
	got, _ := io.ReadAll(resp.Body)
	if !bytes.Equal(got, raw) {
		t.Fatal("the caller did not get the compressed bytes the server sent")
	}
	// Decompressed by net/http already: the body is plain JSON.
	plain := &http.Response{
		StatusCode: 503, Uncompressed: true,
		Header: http.Header{"Content-Type": {problemJSON}},
		Body:   io.NopCloser(strings.NewReader(body883)),
	}
	if a := Of(nil, plain, nil); a.Kind != Backpressure {
		t.Fatalf("uncompressed body read as %v", a.Kind)
	}
}
