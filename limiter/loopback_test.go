package limiter_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebb-go/ebb/camundatest"
	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/retry"
)

// loopbackRun drives 32 creators and the given job activation loops, all
// sharing one client (retry in front of the limiter), against an emulated
// gateway of 4 slots over loopback for d, and returns the creations,
// the jobs activated and the limit sampled every 10ms.
func loopbackRun(t *testing.T, d time.Duration, pollers int, jobType string) (creations, activated int64, limits []int) {
	t.Helper()
	gw := camundatest.NewGateway(camundatest.WithCapacity(camundatest.Capacity{Slots: 4, ServiceTime: 20 * time.Millisecond}))
	defer gw.Close()
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	defer base.CloseIdleConnections()
	lt := limiter.New(base, limiter.Settings{})
	rt := retry.New(lt, retry.Policy{})
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	var created atomic.Int64
	post := func(path, body string) bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw.URL()+path, strings.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
		req.Header.Set("Content-Type", "application/json")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode < 300
	}
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if post("/v2/process-instances", `{"processDefinitionId":"order"}`) {
					created.Add(1)
				}
			}
		})
	}
	activate := fmt.Sprintf(`{"type":%q,"maxJobsToActivate":1,"timeout":60000,"requestTimeout":5000}`, jobType)
	for range pollers {
		wg.Go(func() {
			for ctx.Err() == nil {
				post("/v2/jobs/activation", activate)
			}
		})
	}
	wg.Go(func() {
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				if s, ok := statsOf(lt, gw.URL()[len("http://"):]); ok && s.Limit != limiter.Unlimited {
					limits = append(limits, s.Limit)
				}
			}
		}
	})
	wg.Wait()
	return created.Load(), gw.Stats().JobsActivated, limits
}

func mean(xs []int) float64 {
	var s float64
	for _, x := range xs {
		s += float64(x)
	}
	return s / float64(max(len(xs), 1))
}

// Over real HTTP against the emulated gateway: idle job activations (long
// polls for a job type nobody creates) change neither the limit nor the
// creations much, and an activation loop sharing the client with the
// creators activates far more often than one creator creates. The counts
// of seconds of real time vary; the margins are wide (issue 11 measured
// the first law at two thirds of the creations and twice the limit).
//
// The two runs compared go side by side, each with its own gateway and
// client, so that whatever else loads the machine (other packages' tests
// under the race detector) weighs on both alike.
func TestLoopbackLongPolls(t *testing.T) {
	var (
		alone, idle             int64
		limitsAlone, limitsIdle []int
		wg                      sync.WaitGroup
	)
	wg.Go(func() { alone, _, limitsAlone = loopbackRun(t, 3*time.Second, 0, "") })
	wg.Go(func() { idle, _, limitsIdle = loopbackRun(t, 3*time.Second, 4, "nobody-creates-these") })
	wg.Wait()
	t.Logf("creations: %d alone, %d beside 4 idle long polls; mean limit %.2f and %.2f",
		alone, idle, mean(limitsAlone), mean(limitsIdle))
	if idle < alone*7/10 {
		t.Errorf("%d creations beside idle long polls, want at least 70%% of %d", idle, alone)
	}
	if d := mean(limitsIdle) - mean(limitsAlone); d > 2.5 || len(limitsIdle) == 0 {
		t.Errorf("mean limit %.2f beside idle long polls, %.2f without: the long polls count as load", mean(limitsIdle), mean(limitsAlone))
	}

	creations, activated, _ := loopbackRun(t, time.Second, 1, "order")
	t.Logf("one activation loop beside 32 creators: %d jobs activated, %d created (%d per creator)", activated, creations, creations/32)
	if activated < 2*(creations/32) {
		t.Errorf("%d jobs activated, want at least twice the %d one creator created", activated, creations/32)
	}
}
