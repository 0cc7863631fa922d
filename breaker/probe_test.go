package breaker

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
)

// TestProbeTimeout: a probe sent to a host that never answers fails after
// ProbeTimeout and opens the breaker again, rather than keep it half-open
// for as long as the host stays silent (issue 11: the attempt timeout's
// default protects the probe). A long poll's requestTimeout comes on top.
func TestProbeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var silent, refused bool
		base := testkit.Func(func(req *http.Request) (*http.Response, error) {
			switch {
			case silent:
				return testkit.Canceled(req) // waits for the request's context
			case refused:
				return nil, errors.New("connection refused")
			}
			return testkit.Unavailable(req)
		})
		tr := exact(New(base, Settings{ConsecutiveFailures: 1, ProbeTimeout: 2 * time.Second}))
		post := func(path, body string) error {
			req, _ := http.NewRequest("POST", "http://"+gw+path, stringsReader(body))
			return send(t, tr, req)
		}
		if err := post("/v2/process-instances", "{}"); err != nil {
			t.Fatal(err)
		}
		if state(tr, gw) != Open {
			t.Fatal("one failure did not trip the breaker")
		}
		silent = true
		time.Sleep(time.Second) // past the open period
		start := time.Now()
		if err := post("/v2/process-instances", "{}"); !errors.Is(err, errProbeTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("probe: %v, want the probe's timeout", err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Fatalf("the probe took %v, want its 2s bound", d)
		}
		if st := state(tr, gw); st != Open {
			t.Fatalf("after a probe timed out the breaker is %v, want open", st)
		}

		// A probe that fails at once did not time out, and says so.
		silent, refused = false, true
		time.Sleep(time.Second)
		if err := post("/v2/process-instances", "{}"); err == nil || errors.Is(err, errProbeTimeout) {
			t.Fatalf("a refused probe: %v, want its own error, not a timeout", err)
		}
		silent, refused = true, false

		// A long poll as the probe: its requestTimeout (5s) comes on top.
		time.Sleep(2 * time.Second)
		start = time.Now()
		post("/v2/jobs/activation", `{"type":"t","maxJobsToActivate":1,"requestTimeout":5000}`)
		if d := time.Since(start); d != 7*time.Second {
			t.Fatalf("the long-poll probe took %v, want 5s + 2s", d)
		}
	})
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
