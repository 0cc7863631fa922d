package breaker

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/verdict"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gw is the host of most tests.
const gw = "h:8080"

// errFull stands for a refusal by a lower layer, such as a full limiter
// queue.
var errFull = errors.Join(errors.New("limiter: queue full"), verdict.ErrRefused)

// answers are the final answers of logical requests, by letter:
//
//	S  200              F  503 UNAVAILABLE problem   B  429 (backpressure)
//	C  404 client error  E  500 server error          T  connection reset
//	X  canceled          R  refused locally           D  503 broker out of disk
var answers = map[string]testkit.Step{
	"S": testkit.OK,
	"F": testkit.Unavailable,
	"B": testkit.TooManyRequests,
	"C": testkit.NotFound,
	"E": testkit.ServerError,
	"T": testkit.Reset,
	"X": testkit.Fail(context.Canceled),
	"R": testkit.Fail(errFull),
	"D": testkit.OutOfDisk,
}

// lettered returns the base of the unit tests: a Script answering each
// request as the letter in its query parameter a says (answers), with the
// value of a Retry-After query parameter, if any, as a header.
func lettered() *testkit.Script {
	return testkit.NewScript(func(req *http.Request) (*http.Response, error) {
		q := req.URL.Query()
		step, ok := answers[q.Get("a")]
		if !ok {
			panic("lettered: unknown answer " + q.Get("a"))
		}
		resp, err := step(req)
		if ra := q.Get("Retry-After"); ra != "" && resp != nil {
			resp.Header.Set("Retry-After", ra)
		}
		return resp, err
	})
}

// request builds a request to host with answer a.
func request(t testing.TB, host, path, a string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+host+path+"?a="+a, nil)
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

// run sends one activation request per letter of answers to host h and
// returns how many were refused.
func run(t testing.TB, tr http.RoundTripper, h, answers string) (refused int) {
	t.Helper()
	for _, a := range answers {
		err := send(t, tr, request(t, h, "/v2/topology", string(a)))
		if errors.Is(err, ErrOpen) {
			refused++
		}
	}
	return refused
}

// stats returns the Stats of host label, or the zero HostStats with State
// Closed when the host has no breaker.
func stats(tr *Transport, label string) HostStats {
	for _, s := range tr.Stats() {
		if s.Host == label {
			return s
		}
	}
	return HostStats{Host: label}
}

// state returns the state of host label's breaker.
func state(tr *Transport, label string) State { return stats(tr, label).State }

// exact makes tr draw every open period at its full length.
func exact(tr *Transport) *Transport {
	tr.jitter = func() float64 { return 0 }
	return tr
}
