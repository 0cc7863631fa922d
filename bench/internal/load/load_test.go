package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebb-go/ebb/bench/internal/slot"
	"github.com/ebb-go/ebb/bench/internal/stats"
	"github.com/ebb-go/ebb/breaker"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server starts a slot server on loopback for one test.
func server(t *testing.T, s slot.Settings) (*slot.Server, string) {
	t.Helper()
	srv := slot.New(s)
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, "http://" + addr
}

func sum64(a []int64) (n int64) {
	for _, v := range a {
		n += v
	}
	return n
}

func TestLoneRequestCountsItsAttempts(t *testing.T) {
	srv, url := server(t, slot.Settings{Service: time.Millisecond})
	if err := srv.RefuseNext(2); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{
		Lib: "ebb-nolimit", URL: url, Goroutines: 1, Requests: 1,
		T0: time.Now(), Stop: 10 * time.Second, Window: stats.Span{To: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.EachAttempts, []int64{3}) || !slices.Equal(res.EachOK, []bool{true}) || len(res.EachMS) != 1 {
		t.Errorf("each: attempts %v, ok %v, ms %v; want one request of 3 attempts that succeeded", res.EachAttempts, res.EachOK, res.EachMS)
	}
	w := res.Window
	if w.Attempts != 3 || w.AttemptsOK != 1 || w.Requests != 1 || w.OK != 1 || w.Failed != 0 {
		t.Errorf("window %+v: want 3 attempts, 1 answered 200, 1 request that succeeded", w)
	}
	if len(res.Failures) != 0 {
		t.Errorf("failures %v", res.Failures)
	}
	if res.Name != "ebb, limiter off" || res.Deps["github.com/ebb-go/ebb"] == "" && len(res.Deps) != 0 {
		t.Errorf("name %q, deps %v", res.Name, res.Deps)
	}
}

func TestRefusedRequestsFailWithTheirStatus(t *testing.T) {
	srv, url := server(t, slot.Settings{Service: time.Millisecond})
	if err := srv.SetShare(1); err != nil {
		t.Fatal(err)
	}
	stop := 200 * time.Millisecond
	res, err := Run(context.Background(), Config{
		Lib: "none", URL: url, Goroutines: 4, T0: time.Now(), Stop: stop, Window: stats.Span{To: stop},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := res.Window
	if w.Requests == 0 || w.OK != 0 || w.Failed != w.Requests || w.AttemptsOK != 0 || w.Attempts == 0 {
		t.Errorf("window %+v: want only failed requests and refused attempts", w)
	}
	if len(res.Failures) != 1 || res.Failures["HTTP 503"] != sum64(res.Series.Failed) {
		t.Errorf("failures %v: want only HTTP 503, as many as the series' %d", res.Failures, sum64(res.Series.Failed))
	}
}

func TestClosedLoopsCountEveryRequestOnce(t *testing.T) {
	_, url := server(t, slot.Settings{Slots: 8, Service: time.Millisecond})
	stop := 300 * time.Millisecond
	res, err := Run(context.Background(), Config{
		Lib: "ebb", URL: url, Goroutines: 4, T0: time.Now(), Stop: stop, Window: stats.Span{To: stop},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := res.Window
	if len(w.PerGoroutine) != 4 || len(res.RunOK) != 4 {
		t.Fatalf("per goroutine %v, run %v: want 4 of each", w.PerGoroutine, res.RunOK)
	}
	for i, n := range w.PerGoroutine {
		if n == 0 {
			t.Errorf("goroutine %d got nothing through 8 free slots", i)
		}
	}
	// Every attempt of a request that ended before the run's end found a
	// free slot, and counts once wherever it counts.
	if sum64(w.PerGoroutine) != w.OK || w.Requests != res.Latency.N() || w.AttemptErrors != 0 ||
		sum64(res.RunOK) != sum64(res.Series.OK) || sum64(res.Series.Attempts) != sum64(res.Series.AttemptsOK) ||
		sum64(res.Series.AttemptsOK) != sum64(res.RunOK) {
		t.Errorf("counts disagree: window %+v, run %v, series %+v, latencies %d", w, res.RunOK, res.Series, res.Latency.N())
	}
	if res.Stuck != 0 {
		t.Errorf("stuck %d", res.Stuck)
	}
}

func TestRunRefusesBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name string
		give Config
	}{
		{"off loopback", Config{Lib: "none", URL: "http://192.0.2.1:80", Goroutines: 1}},
		{"https", Config{Lib: "none", URL: "https://127.0.0.1:80", Goroutines: 1}},
		{"unknown lib", Config{Lib: "curl", URL: "http://127.0.0.1:80", Goroutines: 1}},
		{"no goroutine", Config{Lib: "none", URL: "http://127.0.0.1:80"}},
	} {
		if _, err := Run(context.Background(), tc.give); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestReason(t *testing.T) {
	for _, tc := range []struct {
		give error
		want string
	}{
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "context deadline (10s)"},
		{fmt.Errorf("x: %w", breaker.ErrOpen), "ebb: breaker open"},
		{fmt.Errorf("x: %w", circuitbreaker.ErrOpen), "failsafe-go: breaker open"},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), "connection refused"},
		{fmt.Errorf("read: %w", io.EOF), "connection reset or closed"},
		{errors.New(`Post "http://127.0.0.1:41/v2": giving up after 5 attempt(s)`), "giving up after N attempt(s)"},
	} {
		if got := reason(tc.give); got != tc.want {
			t.Errorf("reason(%v) = %q, want %q", tc.give, got, tc.want)
		}
	}
}

func TestMainPrintsItsResult(t *testing.T) {
	_, url := server(t, slot.Settings{Service: time.Millisecond})
	var out, errOut bytes.Buffer
	code := Main([]string{"-lib", "none", "-url", url, "-goroutines", "2", "-stop", "150ms"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if res.Lib != "none" || res.Goroutines != 2 || res.Window.OK == 0 {
		t.Errorf("result %+v", res)
	}
	if code := Main([]string{"-lib", "nope", "-url", url}, io.Discard, &errOut); code == 0 || !strings.Contains(errOut.String(), "nope") {
		t.Errorf("unknown lib: exit %d, stderr %q", code, errOut.String())
	}
}

// A request that sends no attempt failed inside the client; whatever the
// contender's breaker does, the counts agree with the attempts each
// request made.
func TestLocalFailuresAreTheRequestsWithoutAttempts(t *testing.T) {
	srv, url := server(t, slot.Settings{Service: time.Millisecond})
	if err := srv.SetOutage("unavailable"); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{
		Lib: "ebb", URL: url, Goroutines: 1, Requests: 30,
		T0: time.Now(), Stop: 20 * time.Second, Window: stats.Span{To: 20 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	var without int64
	for i, n := range res.EachAttempts {
		if n == 0 {
			without++
			if res.EachOK[i] {
				t.Errorf("request %d succeeded without an attempt", i)
			}
		}
	}
	if len(res.EachAttempts) != 30 || res.Window.FailedLocal != without || sum64(res.Series.FailedLocal) != without || res.Window.Failed != 30 {
		t.Errorf("attempts %v: %d without one; window %+v; series %v", res.EachAttempts, without, res.Window, res.Series.FailedLocal)
	}
}
