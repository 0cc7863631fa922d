package breaker

import (
	"net/http"
	"testing"

	"github.com/ebb-go/ebb/internal/testkit"
)

// BenchmarkRoundTrip measures a closed breaker's overhead on the happy path:
// the host lookup, the verdict of a 200 and the count of a success, against
// the bare in-memory base it wraps.
func BenchmarkRoundTrip(b *testing.B) {
	ok := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}
	base := testkit.Func(func(*http.Request) (*http.Response, error) { return ok, nil })
	req, _ := http.NewRequest(http.MethodPost, "http://camunda:8080/v2/jobs/activation", nil)
	hooks := WithHooks(Hooks{OnStateChange: func(string, State, State) {}, OnReject: func(string, *http.Request) {}})
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

// BenchmarkRefuse measures a refusal by an open breaker, which sends
// nothing.
func BenchmarkRefuse(b *testing.B) {
	tr := New(testkit.Func(testkit.Reset), Settings{}, WithHooks(Hooks{OnReject: func(string, *http.Request) {}}))
	req, _ := http.NewRequest(http.MethodPost, "http://camunda:8080/v2/jobs/activation", nil)
	for range 5 {
		tr.RoundTrip(req)
	}
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tr.RoundTrip(req); err == nil {
				b.Fatal("not refused")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := tr.RoundTrip(req); err == nil {
					b.Error("not refused")
					return
				}
			}
		})
	})
}
