package limiter_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/limiter"
)

// base answers 200 from memory, the same response every time, so that the
// benchmarks measure the layer and nothing else.
func base() http.RoundTripper {
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}
	return testkit.Func(func(*http.Request) (*http.Response, error) { return resp, nil })
}

// BenchmarkBase is the bare base, for reference.
func BenchmarkBase(b *testing.B) {
	rt, req := base(), newReq("POST", target)
	b.ReportAllocs()
	for b.Loop() {
		rt.RoundTrip(req)
	}
}

// BenchmarkUnlimited is the limiter's cost while it is out of the way, as it
// is on a healthy cluster: one compare-and-swap to take a permit, one to
// return it.
func BenchmarkUnlimited(b *testing.B) {
	rt, req := limiter.New(base(), limiter.Settings{}), newReq("POST", target)
	b.ReportAllocs()
	for b.Loop() {
		rt.RoundTrip(req)
	}
}

func BenchmarkUnlimitedParallel(b *testing.B) {
	rt := limiter.New(base(), limiter.Settings{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := newReq("POST", target)
		for pb.Next() {
			rt.RoundTrip(req)
		}
	})
}

// BenchmarkUnlimitedHooks adds hooks that do nothing: no attempt waits, so
// none is called.
func BenchmarkUnlimitedHooks(b *testing.B) {
	rt := limiter.New(base(), limiter.Settings{}, limiter.WithHooks(limiter.Hooks{
		OnWait: func(string, time.Duration) {}, OnReject: func(string) {},
	}))
	req := newReq("POST", target)
	b.ReportAllocs()
	for b.Loop() {
		rt.RoundTrip(req)
	}
}

// held returns a limiter whose host has a limit, one too high to be
// reached: every attempt takes the mutex and reads the clock, none waits.
func held() http.RoundTripper {
	var refused atomic.Bool
	ok := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}
	rt := limiter.New(testkit.Func(func(req *http.Request) (*http.Response, error) {
		if refused.CompareAndSwap(false, true) {
			return testkit.Response(req, 429, "", ""), nil
		}
		return ok, nil
	}), limiter.Settings{Initial: 1 << 20, RecoveryInterval: time.Hour, UnlimitedAfter: -1})
	rt.RoundTrip(newReq("POST", target))
	return rt
}

// BenchmarkHeld is the cost of an attempt while the host's limit holds.
func BenchmarkHeld(b *testing.B) {
	rt, req := held(), newReq("POST", target)
	b.ReportAllocs()
	for b.Loop() {
		rt.RoundTrip(req)
	}
}

func BenchmarkHeldParallel(b *testing.B) {
	rt := held()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := newReq("POST", target)
		for pb.Next() {
			rt.RoundTrip(req)
		}
	})
}

// BenchmarkDrain is a job completion, which passes without a permit.
func BenchmarkDrain(b *testing.B) {
	rt, req := limiter.New(base(), limiter.Settings{}), newReq("POST", "http://sim.test/v2/jobs/2251799813685249/completion")
	b.ReportAllocs()
	for b.Loop() {
		rt.RoundTrip(req)
	}
}

// BenchmarkStats is a scrape of one host's numbers.
func BenchmarkStats(b *testing.B) {
	lt := limiter.New(base(), limiter.Settings{})
	lt.RoundTrip(newReq("POST", target))
	b.ReportAllocs()
	for b.Loop() {
		lt.Stats()
	}
}
