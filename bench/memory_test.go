package bench

import (
	"bytes"
	"fmt"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/retry"
	"github.com/ebb-go/ebb/transport"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/simtest"
)

// uploadSize is the body of the memory comparison: a large upload, such as
// a deployment of a big BPMN resource.
const uploadSize = 4 << 20

// flakyBase reads every request body to the end, as a real transport
// sends it, and answers each logical request with Camunda's backpressure
// twice, then 200. The requests come one at a time, so every third attempt
// is a third attempt.
type flakyBase struct{ n atomic.Int64 }

func (f *flakyBase) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	code, ctype, body := http.StatusOK, "application/json", "{}"
	if f.n.Add(1)%3 != 0 {
		code, ctype, body = http.StatusServiceUnavailable, "application/problem+json", simtest.Problem
	}
	return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {ctype}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

// uploadContenders are those of the memory comparison: the two retrying
// libraries and ebb, each with its defaults.
var uploadContenders = []contender{
	{"go-retryablehttp", retryableHTTP},
	{"failsafe-go", failsafePerRequest},
	{"ebb", ebbDefault},
}

// upload sends one logical request with the payload through rt, as
// http.NewRequest builds it from a bytes.Reader (which sets GetBody), and
// checks that it took three attempts.
func upload(tb testing.TB, rt http.RoundTripper, base *flakyBase, payload []byte) {
	before := base.n.Load()
	req, err := http.NewRequest(http.MethodPost, "http://gateway.test:8080/v2/deployments", bytes.NewReader(payload))
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("want 200, got %v %v", resp, err)
	}
	resp.Body.Close()
	if n := base.n.Load() - before; n != 3 {
		tb.Fatalf("%d attempts, want 3", n)
	}
}

// TestRetriedUploadMemory measures the bytes allocated per logical request
// when a 4 MiB upload is refused twice and accepted the third time. The
// contenders run with their default delays, under testing/synctest so that
// their seconds of backoff take no time.
func TestRetriedUploadMemory(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), uploadSize)
	const requests = 4
	perRequest := map[string]uint64{}
	for _, c := range uploadContenders {
		synctest.Test(t, func(t *testing.T) {
			base := &flakyBase{}
			rt := c.new(base)
			upload(t, rt, base, payload) // warm up: pools, per-host state
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range requests {
				upload(t, rt, base, payload)
			}
			runtime.ReadMemStats(&after)
			perRequest[c.name] = (after.TotalAlloc - before.TotalAlloc) / requests
		})
	}
	var b strings.Builder
	b.WriteString("\n| client | allocated per request | × body |\n|---|--:|--:|\n")
	for _, c := range uploadContenders {
		n := perRequest[c.name]
		b.WriteString("| " + c.name + " | " + kib(n) + " | " + times(n) + " |\n")
	}
	t.Logf("a 4 MiB upload, refused twice, accepted the third time:%s", b.String())
	// ebb replays through req.GetBody, which hands out a new reader over
	// the caller's bytes: a few KiB per request, whatever the body's size.
	if n := perRequest["ebb"]; n > 256<<10 {
		t.Errorf("ebb allocated %s per request: a retry must not copy the body", kib(n))
	}
	// go-retryablehttp reads the body into a buffer of its own before the
	// first attempt; io.ReadAll grows it in steps, so it allocates more
	// than the body's size.
	if n := perRequest["go-retryablehttp"]; n < uploadSize {
		t.Errorf("go-retryablehttp allocated %s per request, less than the body: has it stopped copying it?", kib(n))
	}
}

// BenchmarkRetriedUpload is TestRetriedUploadMemory as a benchmark, for
// B/op beside the other figures of a -benchmem run. Benchmarks cannot run in
// a synctest bubble, so each contender waits 1ms between attempts instead
// of its default delays, which do not change what it allocates. ebb's
// limiter is off here: a lone client refused twice on every request sits at
// the limiter's floor, where each refused attempt waits a probe interval
// (about a second) before the next; in the test, under synctest, that wait
// is free.
func BenchmarkRetriedUpload(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), uploadSize)
	fast := []contender{
		{"go-retryablehttp", func(base http.RoundTripper) http.RoundTripper {
			rt := retryableHTTP(base).(*retryablehttp.RoundTripper)
			rt.Client.RetryWaitMin, rt.Client.RetryWaitMax = time.Millisecond, time.Millisecond
			return rt
		}},
		{"failsafe-go", func(base http.RoundTripper) http.RoundTripper {
			rp := failsafehttp.NewRetryPolicyBuilder().WithDelay(time.Millisecond).WithMaxRetries(4).Build()
			return failsafehttp.NewRoundTripper(base, failsafeBreaker(), rp)
		}},
		{"ebb", func(base http.RoundTripper) http.RoundTripper {
			return transport.New(base, transport.WithLimiter(limiter.Settings{Profile: limiter.Off}),
				transport.WithRetry(retry.Policy{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond}))
		}},
	}
	for _, c := range fast {
		b.Run(c.name, func(b *testing.B) {
			base := &flakyBase{}
			rt := c.new(base)
			b.ReportAllocs()
			for b.Loop() {
				upload(b, rt, base, payload)
			}
		})
	}
}

func kib(n uint64) string { return fmt.Sprintf("%.0f KiB", float64(n)/1024) }

func times(n uint64) string { return fmt.Sprintf("%.2f", float64(n)/uploadSize) }
