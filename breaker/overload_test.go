package breaker

import (
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/simtest"
	"github.com/ebb-go/ebb/verdict"
)

// retrying stands in for the retry layer below the breaker: it retries
// backpressure, up to five attempts, after 100ms, 200ms, 400ms and 800ms,
// each ±50%.
type retrying struct{ next http.RoundTripper }

func (r retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		resp, err := r.next.RoundTrip(req)
		if err != nil || attempt == 5 || verdict.Of(req, resp, nil).Kind != verdict.Backpressure {
			return resp, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		select {
		case <-time.After(time.Duration((0.5 + rand.Float64()) * float64(delay))):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		delay *= 2
	}
}

// TestOverloadDoesNotOpen checks that backpressure absorbed by retries does
// not open the breaker: 64 clients press on a server with 8 slots for 20s,
// many of their attempts are refused, and the breaker, which judges logical
// requests after their retries, stays closed. The same breaker judging
// attempts (inside the retries) opens over and over.
func TestOverloadDoesNotOpen(t *testing.T) {
	for _, tt := range []struct {
		name   string
		chain  func(srv http.RoundTripper, hooks Option) http.RoundTripper
		closed bool
	}{
		{"outside the retries", func(srv http.RoundTripper, h Option) http.RoundTripper { return New(retrying{srv}, Settings{}, h) }, true},
		{"inside the retries", func(srv http.RoundTripper, h Option) http.RoundTripper { return retrying{New(srv, Settings{}, h)} }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := simtest.NewServer(8, 10*time.Millisecond)
				srv.SetLatency(100 * time.Microsecond)
				srv.SetJitter(0.5)
				var opened atomic.Int64
				hooks := WithHooks(Hooks{OnStateChange: func(_ string, _, to State) {
					if to == Open {
						opened.Add(1)
					}
				}})
				res := simtest.Run(20*time.Second, simtest.Load{Transport: tt.chain(srv, hooks), Clients: 64, FailurePause: 20 * time.Millisecond})
				c := res.Total()
				t.Logf("%v; opened %d times", c, opened.Load())
				if tt.closed && opened.Load() != 0 {
					t.Errorf("opened %d times under absorbed backpressure", opened.Load())
				}
				if !tt.closed && opened.Load() == 0 {
					t.Error("judging attempts never opened: the test cannot tell")
				}
			})
		})
	}
}
