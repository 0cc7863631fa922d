package breaker

import (
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
)

// TestConcurrent drives hundreds of goroutines through one host's breaker
// while the host fails for two seconds of fake time and then recovers, and
// checks the contract of every answer, the transitions the hook saw, and
// that traffic flows again once the outage is over.
func TestConcurrent(t *testing.T) {
	const (
		workers = 200
		open    = 500 * time.Millisecond
		down    = time.Second     // the outage starts
		up      = 3 * time.Second // and ends
		end     = 5 * time.Second
	)
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var hits atomic.Int64
		base := testkit.Func(func(req *http.Request) (*http.Response, error) {
			hits.Add(1)
			if el := time.Since(start); el >= down && el < up {
				if rand.IntN(2) == 0 {
					return testkit.Reset(req)
				}
				return testkit.Unavailable(req)
			}
			return testkit.OK(req)
		})

		var (
			mu          sync.Mutex
			transitions []change
			delivering  atomic.Bool
			rejects     atomic.Int64
		)
		var tr *Transport
		tr = New(base, Settings{OpenTimeout: open}, WithHooks(Hooks{
			OnStateChange: func(h string, from, to State) {
				if !delivering.CompareAndSwap(false, true) {
					t.Error("overlapping OnStateChange calls")
				}
				tr.Stats() // a hook may look at the breaker
				mu.Lock()
				transitions = append(transitions, change{from, to})
				mu.Unlock()
				delivering.Store(false)
			},
			OnReject: func(string, *http.Request) { rejects.Add(1) },
		}))

		var (
			wg                  sync.WaitGroup
			refused, lateRefuse atomic.Int64
		)
		for w := range workers {
			wg.Go(func() {
				for i := 0; time.Since(start) < end; i++ {
					path := "/v2/jobs/activation"
					if (w+i)%10 == 0 {
						path = "/v2/jobs/1/completion"
					}
					req, _ := http.NewRequest(http.MethodPost, "http://gw:8080"+path, nil)
					resp, err := tr.RoundTrip(req)
					switch {
					case (resp == nil) == (err == nil):
						t.Errorf("response %v and error %v", resp, err)
					case resp != nil:
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					case errors.Is(err, ErrOpen):
						refused.Add(1)
						if path != "/v2/jobs/activation" {
							t.Errorf("drain operation refused: %v", err)
						}
						if el := time.Since(start); el < down || el >= up+2*open {
							lateRefuse.Add(1)
						}
					case !errors.Is(err, syscall.ECONNRESET):
						t.Errorf("unexpected error %v", err)
					}
					time.Sleep(time.Duration(5+rand.IntN(45)) * time.Millisecond)
				}
			})
		}
		wg.Wait()

		if refused.Load() == 0 || rejects.Load() != refused.Load() {
			t.Fatalf("%d refused, %d rejections reported", refused.Load(), rejects.Load())
		}
		if lateRefuse.Load() != 0 {
			t.Fatalf("%d requests refused outside the outage and its last open period", lateRefuse.Load())
		}
		if got := state(tr, "gw:8080"); got != Closed {
			t.Fatalf("state %v after recovery", got)
		}
		prev := Closed
		for i, c := range transitions {
			if c.from != prev {
				t.Fatalf("transition %d %v>%v follows one to %v", i, c.from, c.to, prev)
			}
			prev = c.to
		}
		if len(transitions) < 3 || prev != Closed {
			t.Fatalf("transitions %v", transitions)
		}
		t.Logf("%d requests reached the host, %d refused, %d transitions", hits.Load(), refused.Load(), len(transitions))
	})
}
