package breaker

import (
	"net/http"
	"testing"

	"github.com/sony/gobreaker/v2"
)

// BenchmarkRoundTrip measures a closed breaker's overhead on the happy path:
// the host lookup, gobreaker's two steps and the verdict of a 200, against
// the bare in-memory base it wraps.
func BenchmarkRoundTrip(b *testing.B) {
	ok := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}
	base := rtFunc(func(*http.Request) (*http.Response, error) { return ok, nil })
	req, _ := http.NewRequest(http.MethodPost, "http://camunda:8080/v2/jobs/activation", nil)
	hooks := WithHooks(Hooks{OnStateChange: func(string, State, State) {}, OnReject: func(string) {}})
	for _, bb := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"base", base},
		{"breaker", New(base, Settings{}, hooks)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bb.rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bb.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bb.rt.RoundTrip(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRefuse measures a refusal by an open breaker, which takes no lock
// and sends nothing.
func BenchmarkRefuse(b *testing.B) {
	fail := rtFunc(func(*http.Request) (*http.Response, error) { return nil, errReset })
	tr := New(fail, Settings{})
	req, _ := http.NewRequest(http.MethodPost, "http://camunda:8080/v2/jobs/activation", nil)
	for range 5 {
		tr.RoundTrip(req)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tr.RoundTrip(req); err == nil {
				b.Error("not refused")
				return
			}
		}
	})
}

// BenchmarkGobreaker is the measurement behind using CircuitBreaker.Execute
// rather than TwoStepCircuitBreaker.Allow: Allow returns a closure that
// escapes, one allocation per request; Execute's function stays on the
// stack.
func BenchmarkGobreaker(b *testing.B) {
	b.Run("two-step", func(b *testing.B) {
		cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{})
		b.ReportAllocs()
		for b.Loop() {
			done, err := cb.Allow()
			if err != nil {
				b.Fatal(err)
			}
			done(nil)
		}
	})
	b.Run("execute", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{})
		var n int
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cb.Execute(func() (struct{}, error) { n++; return struct{}{}, nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}
