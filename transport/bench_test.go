package transport

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// okBase answers every request with the same 200, so that a benchmark
// measures the chain and nothing else.
type okBase struct{ resp *http.Response }

func (b okBase) RoundTrip(*http.Request) (*http.Response, error) { return b.resp, nil }

func newOKBase() okBase {
	return okBase{resp: &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: http.NoBody}}
}

func benchRoundTrip(b *testing.B, rt http.RoundTripper, path string) {
	req, err := http.NewRequest("POST", "http://gateway.test:8080"+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(resp, err)
		}
	}
}

// benchActivation sends a job activation with the body a worker sends,
// which the chain reads again (through GetBody) for its requestTimeout.
func benchActivation(b *testing.B, rt http.RoundTripper) {
	const body = `{"type":"payment","worker":"w1","timeout":300000,"maxJobsToActivate":32,"requestTimeout":20000}`
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("POST", "http://gateway.test:8080/v2/jobs/activation", strings.NewReader(body))
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(resp, err)
		}
	}
}

// BenchmarkHappyPath compares the bare base with the default chain over it,
// on a 200: the difference is the chain's overhead per request.
func BenchmarkHappyPath(b *testing.B) {
	const path = "/v2/jobs/2251799813685249/completion"
	b.Run("base", func(b *testing.B) { benchRoundTrip(b, newOKBase(), path) })
	b.Run("chain", func(b *testing.B) { benchRoundTrip(b, New(newOKBase()), path) })
	b.Run("chain/activation", func(b *testing.B) { benchRoundTrip(b, New(newOKBase()), "/v2/jobs/activation") })
	b.Run("base/activation+body", func(b *testing.B) { benchActivation(b, newOKBase()) })
	b.Run("chain/activation+body", func(b *testing.B) { benchActivation(b, New(newOKBase())) })
	b.Run("chain+metrics", func(b *testing.B) {
		benchRoundTrip(b, New(newOKBase(), WithMetrics(prometheus.NewRegistry())), path)
	})
	// Each attempt bounded: a context, a timer and a request clone per
	// attempt (retry.Policy.AttemptTimeout).
	b.Run("chain+attempt-timeout", func(b *testing.B) {
		benchRoundTrip(b, New(newOKBase(), WithAttemptTimeout(time.Second)), "/v2/process-instances")
	})
}

func BenchmarkHappyPathParallel(b *testing.B) {
	for _, name := range []string{"base", "chain", "chain+metrics"} {
		b.Run(name, func(b *testing.B) {
			var rt http.RoundTripper = newOKBase()
			switch name {
			case "chain":
				rt = New(rt)
			case "chain+metrics":
				rt = New(rt, WithMetrics(prometheus.NewRegistry()))
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest("POST", "http://gateway.test:8080/v2/jobs/activation", nil)
				for pb.Next() {
					if _, err := rt.RoundTrip(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkHappyPathClient is BenchmarkHappyPath through http.Client, the
// way a program uses the chain: the difference to "base" is what the chain
// adds to a request that succeeds at once.
func BenchmarkHappyPathClient(b *testing.B) {
	const path = "/v2/jobs/2251799813685249/completion"
	run := func(b *testing.B, rt http.RoundTripper) {
		c := &http.Client{Transport: rt}
		req, err := http.NewRequest("POST", "http://gateway.test:8080"+path, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			resp, err := c.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(resp, err)
			}
		}
	}
	b.Run("base", func(b *testing.B) { run(b, newOKBase()) })
	b.Run("chain", func(b *testing.B) { run(b, New(newOKBase())) })
	b.Run("chain+metrics", func(b *testing.B) { run(b, New(newOKBase(), WithMetrics(prometheus.NewRegistry()))) })
}
