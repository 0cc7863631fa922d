package breaker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
	"github.com/ebb-go/ebb/verdict"
)

// TestProbeTimeout: a probe sent to a host that never answers fails after
// ProbeTimeout and opens the breaker again, rather than keep it half-open
// for as long as the host stays silent (issue 11: the attempt timeout's
// default protects the probe). A long poll's requestTimeout comes on top.
func TestProbeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var silent, refused, queued bool
		base := testkit.Func(func(req *http.Request) (*http.Response, error) {
			switch {
			case queued:
				// A limiter's queue that outlasts the bound: nothing sent.
				<-req.Context().Done()
				return nil, fmt.Errorf("limiter: gave up waiting: %w", errors.Join(context.Cause(req.Context()), verdict.ErrNotSent))
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

		// A probe whose bound runs out before it leaves the process (in a
		// limiter's queue below) was never seen by the host: it is not
		// counted, and the breaker stays half-open for the next request.
		time.Sleep(2 * time.Second)
		silent, queued = false, true
		if err := post("/v2/process-instances", "{}"); !errors.Is(err, errProbeTimeout) || !errors.Is(err, verdict.ErrNotSent) {
			t.Fatalf("a probe that never left: %v, want the probe's timeout, not sent", err)
		}
		if st := state(tr, gw); st != HalfOpen {
			t.Fatalf("after a probe that never left the breaker is %v, want still half-open", st)
		}
		silent, queued = true, false
		if err := post("/v2/process-instances", "{}"); !errors.Is(err, errProbeTimeout) {
			t.Fatalf("the next request: %v, want it sent as the probe", err)
		}

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

// TestLongPollProbeParks: a job activation sent as the probe is parked by
// a gateway that is up, and may stay so for its whole requestTimeout. Once
// it has been out for longPollPark, a request refused beside it takes its
// place, probes and closes the breaker within a round trip: a worker whose
// probe happened to be a long poll is not refused until its poll returns
// (issue 10's recovery within a second). The long poll's own answer, when
// it comes, changes nothing. With no other request, an activation probe
// that is slow to fail (retried below, say) still opens the breaker.
func TestLongPollProbeParks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var down bool
		var slow time.Duration
		polls := make(chan struct{})
		base := testkit.Func(func(req *http.Request) (*http.Response, error) {
			switch {
			case down:
				time.Sleep(slow)
				return testkit.Unavailable(req)
			case strings.HasSuffix(req.URL.Path, "/activation"):
				<-polls // parked until the test lets it go
				return testkit.OK(req)
			}
			return testkit.OK(req)
		})
		tr := exact(New(base, Settings{ConsecutiveFailures: 1}))
		post := func(path, body string) error {
			req, _ := http.NewRequest("POST", "http://"+gw+path, strings.NewReader(body))
			return send(t, tr, req)
		}
		down = true
		post("/v2/process-instances", "{}")
		if state(tr, gw) != Open {
			t.Fatal("one failure did not trip the breaker")
		}
		down = false
		time.Sleep(time.Second) // past the open period

		// The probe is a long poll, which the gateway parks.
		done := make(chan error, 1)
		go func() {
			done <- post("/v2/jobs/activation", `{"type":"t","maxJobsToActivate":1,"requestTimeout":60000}`)
		}()
		synctest.Wait()
		if err := post("/v2/process-instances", "{}"); !errors.Is(err, ErrOpen) {
			t.Fatalf("a create beside a long-poll probe just sent: %v, want refused", err)
		}
		time.Sleep(longPollPark)
		start := time.Now()
		if err := post("/v2/process-instances", "{}"); err != nil {
			t.Fatalf("a create once the long-poll probe is parked: %v, want it sent as the probe", err)
		}
		if time.Since(start) != 0 || state(tr, gw) != Closed {
			t.Fatalf("after the create's probe the breaker is %v, want closed at once", state(tr, gw))
		}
		close(polls)
		if err := <-done; err != nil {
			t.Fatalf("the parked long poll: %v", err)
		}
		if state(tr, gw) != Closed {
			t.Fatal("the long poll's late answer moved the breaker")
		}

		// Against a host still down, a long-poll probe that fails opens
		// the breaker again, as any probe does, also when its failure
		// takes longer than longPollPark: nothing else was refused, so
		// nothing took its place.
		down = true
		post("/v2/process-instances", "{}")
		time.Sleep(time.Second)
		slow = time.Second
		if err := post("/v2/jobs/activation", `{"type":"t","maxJobsToActivate":1}`); err != nil {
			t.Fatalf("long-poll probe: %v", err)
		}
		if state(tr, gw) != Open {
			t.Fatalf("after a long-poll probe failed in 1s the breaker is %v, want open", state(tr, gw))
		}
	})
}

// TestActivationsLeaveProbeToOthers: while requests other than job
// activations are being refused, an activation does not take the probe's
// place, since a gateway that is up may park it and say nothing for its
// whole requestTimeout; the next other request probes instead. With no
// other request refused for a second, an activation probes.
func TestActivationsLeaveProbeToOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		down := true
		base := testkit.Func(func(req *http.Request) (*http.Response, error) {
			if down {
				return testkit.Unavailable(req)
			}
			return testkit.OK(req)
		})
		tr := exact(New(base, Settings{ConsecutiveFailures: 1}))
		post := func(path string) error {
			req, _ := http.NewRequest("POST", "http://"+gw+path, strings.NewReader(`{"type":"t","maxJobsToActivate":1}`))
			return send(t, tr, req)
		}
		post("/v2/process-instances") // trips
		if err := post("/v2/process-instances"); !errors.Is(err, ErrOpen) {
			t.Fatalf("a create while open: %v, want refused", err)
		}
		down = false
		time.Sleep(defaultOpenTimeout + time.Millisecond) // the period is over; the refusal was 100ms ago
		if err := post("/v2/jobs/activation"); !errors.Is(err, ErrOpen) {
			t.Fatalf("an activation after a create was refused: %v, want refused too", err)
		}
		if err := post("/v2/process-instances"); err != nil || state(tr, gw) != Closed {
			t.Fatalf("the create after it: %v, breaker %v; want it sent as the probe, closing the breaker", err, state(tr, gw))
		}

		// Tripped again, with no other request refused for a second: an
		// activation probes.
		down = true
		post("/v2/process-instances")
		down = false
		time.Sleep(othersWait)
		if err := post("/v2/jobs/activation"); err != nil || state(tr, gw) != Closed {
			t.Fatalf("an activation with nothing else refused: %v, breaker %v; want it sent as the probe, closing the breaker", err, state(tr, gw))
		}

		// An activation that asks for an answer at once (a negative
		// requestTimeout) is not parked: it probes like any request, even
		// while others are being refused. (A Window after the breaker
		// closed, its open period starts again from OpenTimeout.)
		time.Sleep(defaultWindow)
		down = true
		post("/v2/process-instances") // trips
		if err := post("/v2/process-instances"); !errors.Is(err, ErrOpen) {
			t.Fatalf("a create while open: %v, want refused", err)
		}
		down = false
		time.Sleep(defaultOpenTimeout + time.Millisecond)
		req, _ := http.NewRequest("POST", "http://"+gw+"/v2/jobs/activation", strings.NewReader(`{"type":"t","requestTimeout":-1}`))
		if err := send(t, tr, req); err != nil || state(tr, gw) != Closed {
			t.Fatalf("an activation asking for an answer at once: %v, breaker %v; want it sent as the probe, closing the breaker", err, state(tr, gw))
		}
	})
}
