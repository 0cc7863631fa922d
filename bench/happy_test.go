package bench

import (
	"net/http"
	"testing"

	"github.com/ebb-go/ebb/transport"
	"github.com/prometheus/client_golang/prometheus"
)

// okBase answers every request with a copy of the same preallocated 200, so
// that what a benchmark measures is the layers over it and nothing else.
// The copy, one allocation that every contender pays alike, is needed:
// failsafe-go wraps the Body of the response it is handed, and handed the
// same response every time it would nest one more wrapper per request, each
// Close walking all of them.
type okBase struct{ resp *http.Response }

func (b okBase) RoundTrip(*http.Request) (*http.Response, error) {
	resp := *b.resp
	return &resp, nil
}

func newOKBase() okBase {
	return okBase{resp: &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: http.NoBody}}
}

// BenchmarkHappyPath measures each contender over a base that answers 200
// at once. The sub-benchmarks run one after the other in the same process,
// the base first, so each reports, beside ns/op, its ratio to the base's
// ns/op in the same run (x-base) and the difference (ns-over-base/op).
func BenchmarkHappyPath(b *testing.B) {
	cases := []contender{
		{"base", noRetry},
		{"go-retryablehttp", retryableHTTP},
		{"failsafe-go", failsafePerRequest},
		{"ebb", ebbDefault},
		{"ebb+metrics", func(base http.RoundTripper) http.RoundTripper {
			return transport.New(base, transport.WithMetrics(prometheus.NewRegistry()))
		}},
	}
	var baseNs float64
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rt := c.new(newOKBase())
			req, err := http.NewRequest(http.MethodPost, "http://gateway.test:8080/v2/process-instances", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := rt.RoundTrip(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatal(resp, err)
				}
				resp.Body.Close()
			}
			ns := float64(b.Elapsed()) / float64(b.N)
			if c.name == "base" {
				baseNs = ns
				return
			}
			if baseNs > 0 {
				b.ReportMetric(ns/baseNs, "x-base")
				b.ReportMetric(ns-baseNs, "ns-over-base/op")
			}
		})
	}
}
