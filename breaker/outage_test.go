package breaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
)

// The outage simulation: clients in closed loops send requests through one
// breaker per process to a server that answers 200 after okLatency, except
// during an outage, when it answers every request at once (after
// failLatency) with 503 UNAVAILABLE. A client pauses failPause after a
// failure and refusedPause after a refusal: a real caller may spin, but a
// simulated one must let the fake clock move.
const (
	okLatency    = 10 * time.Millisecond
	failLatency  = time.Millisecond
	failPause    = time.Millisecond
	refusedPause = 20 * time.Millisecond
	bin          = 100 * time.Millisecond
)

type outageSim struct {
	processes, clients int           // clients per process
	before, outage     time.Duration // healthy, then down
	after              time.Duration // healthy again
	settings           Settings
}

type outageResult struct {
	sentDuring int64           // attempts the server saw during the outage
	noRetry    int64           // what clients without retries would have sent
	toClose    time.Duration   // from recovery to the last process's breaker closed
	to90       time.Duration   // from recovery to the end of the first bin at 90% of the goodput before
	periods    []time.Duration // the first open period of each process
}

func (r outageResult) String() string {
	return fmt.Sprintf("sent %d during the outage (%.3f%% of %d), closed %v and 90%% %v after recovery",
		r.sentDuring, 100*float64(r.sentDuring)/float64(r.noRetry), r.noRetry, r.toClose, r.to90)
}

// run runs the simulation; call it inside a synctest bubble.
func (o outageSim) run() outageResult {
	start := time.Now()
	down, up, end := o.before, o.before+o.outage, o.before+o.outage+o.after
	var sent atomic.Int64
	base := testkit.Func(func(req *http.Request) (*http.Response, error) {
		at := time.Since(start)
		if at >= down && at < up {
			sent.Add(1)
			time.Sleep(failLatency)
			return testkit.Unavailable(req)
		}
		time.Sleep(okLatency)
		return testkit.OK(req)
	})
	bins := make([]atomic.Int64, int(end/bin)+1)
	var (
		mu      sync.Mutex
		closed  = make([]time.Duration, o.processes)
		periods = make([]time.Duration, o.processes)
		wg      sync.WaitGroup
	)
	for p := range o.processes {
		var tr *Transport
		tr = New(base, o.settings, WithHooks(Hooks{OnStateChange: func(host string, from, to State) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case to == Closed:
				closed[p] = time.Since(start)
			case from == Closed && periods[p] == 0:
				periods[p] = stats(tr, host).OpenPeriod
			}
		}}))
		for range o.clients {
			wg.Go(func() {
				for time.Since(start) < end {
					req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://gw:8080/v2/process-instances", nil)
					resp, err := tr.RoundTrip(req)
					switch {
					case err == nil && resp.StatusCode == 200:
						bins[time.Since(start)/bin].Add(1)
					case errors.Is(err, ErrOpen):
						time.Sleep(refusedPause)
					default:
						time.Sleep(failPause)
					}
					if resp != nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			})
		}
	}
	wg.Wait()

	r := outageResult{sentDuring: sent.Load(), periods: periods}
	r.noRetry = int64(o.processes*o.clients) * int64(o.outage/(failLatency+failPause))
	r.toClose = slices.Max(closed) - up
	if slices.Min(closed) < up {
		r.toClose = -1 // a breaker did not close after the recovery
	}
	var healthy int64
	n := int(down / bin)
	for i := 1; i < n; i++ { // the first bin is a ramp
		healthy += bins[i].Load()
	}
	healthy /= int64(n - 1)
	for i := int(up / bin); i < len(bins); i++ {
		if 10*bins[i].Load() >= 9*healthy {
			r.to90 = time.Duration(i+1)*bin - up
			break
		}
	}
	return r
}

// TestOutage checks the recovery goals with the default settings: back to
// 90% of the goodput within a second of the server's recovery, for outages
// of 5s and of a minute, while sending at most 5% of what clients without
// retries would have sent during the outage.
func TestOutage(t *testing.T) {
	for _, o := range []outageSim{
		{processes: 1, clients: 16, before: 2 * time.Second, outage: 5 * time.Second, after: 2 * time.Second},
		{processes: 1, clients: 16, before: 2 * time.Second, outage: time.Minute, after: 2 * time.Second},
		{processes: 4, clients: 4, before: 2 * time.Second, outage: 5 * time.Second, after: 2 * time.Second},
		{processes: 4, clients: 4, before: 2 * time.Second, outage: time.Minute, after: 2 * time.Second},
	} {
		t.Run(fmt.Sprintf("%dx%d/%v", o.processes, o.clients, o.outage), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := o.run()
				t.Log(r)
				if 20*r.sentDuring > r.noRetry {
					t.Errorf("sent %d during the outage, more than 5%% of %d", r.sentDuring, r.noRetry)
				}
				// The last probe before recovery may fail just before it
				// (failLatency later): the next may go MaxOpenTimeout
				// later, when a refused client looks again (up to
				// refusedPause later), and takes okLatency.
				if limit := failLatency + defaultMaxOpenTimeout + refusedPause + okLatency; r.toClose < 0 || r.toClose > limit {
					t.Errorf("closed %v after recovery, want at most %v", r.toClose, limit)
				}
				if r.to90 == 0 || r.to90 > time.Second {
					t.Errorf("back to 90%% %v after recovery, want within 1s", r.to90)
				}
				if o.processes > 1 && len(slices.Compact(slices.Sorted(slices.Values(r.periods)))) == 1 {
					t.Errorf("every process drew the same open period %v", r.periods[0])
				}
			})
		})
	}
}
