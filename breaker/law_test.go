package breaker

import (
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
)

// TestOpenPeriods checks the law of the open period: it doubles from
// OpenTimeout with each failed probe, up to MaxOpenTimeout, goes on
// doubling after a trip within a Window of closing, and starts again once
// the breaker stayed closed a Window.
func TestOpenPeriods(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		s      Settings
		jitter float64
		steps  string // F: a failed probe, S: a probe that closes, T: the five failures that trip, w: 1s, W: 11s
		want   []time.Duration
	}{
		{"defaults", Settings{}, 0, "TFFFFSwTSWT", []time.Duration{100 * ms, 200 * ms, 400 * ms, 500 * ms, 500 * ms, 500 * ms, 100 * ms}},
		{"a trip soon after closing", Settings{}, 0, "TSwTSwTFSWT", []time.Duration{100 * ms, 200 * ms, 400 * ms, 500 * ms, 100 * ms}},
		{"the most jitter", Settings{}, 0.99, "TFFFF", []time.Duration{50500 * time.Microsecond, 101 * ms, 202 * ms, 252500 * time.Microsecond, 252500 * time.Microsecond}},
		{"no growth", Settings{MaxOpenTimeout: -1}, 0, "TFFS", []time.Duration{100 * ms, 100 * ms, 100 * ms}},
		{"cap below the first", Settings{OpenTimeout: time.Second}, 0, "TFF", []time.Duration{time.Second, time.Second, time.Second}},
		{"custom", Settings{OpenTimeout: 30 * ms, MaxOpenTimeout: 100 * ms}, 0, "TFFFS", []time.Duration{30 * ms, 60 * ms, 100 * ms, 100 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := New(lettered(), tt.s)
				tr.jitter = func() float64 { return tt.jitter }
				var got []time.Duration
				for _, step := range tt.steps {
					switch step {
					case 'T':
						run(t, tr, gw, "FFFFF")
					case 'F', 'S':
						time.Sleep(stats(tr, gw).OpenFor + time.Nanosecond)
						if run(t, tr, gw, string(step)) != 0 {
							t.Fatal("probe refused")
						}
					case 'w':
						time.Sleep(time.Second)
						continue
					case 'W':
						time.Sleep(11 * time.Second)
						continue
					}
					if s := stats(tr, gw); s.State == Open {
						got = append(got, s.OpenPeriod)
					}
				}
				if len(got) != len(tt.want) {
					t.Fatalf("open periods %v, want %v", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Fatalf("open periods %v, want %v", got, tt.want)
					}
				}
			})
		})
	}
}

// TestJitter checks that the open periods drawn spread over half to all of
// their length.
func TestJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := New(lettered(), Settings{})
		lo, hi := time.Hour, time.Duration(0)
		for range 200 {
			run(t, tr, gw, "FFFFF")
			p := stats(tr, gw).OpenPeriod
			lo, hi = min(lo, p), max(hi, p)
			time.Sleep(p + time.Nanosecond)
			run(t, tr, gw, "S")
			time.Sleep(11 * time.Second)
		}
		if lo < 50*time.Millisecond || hi > 100*time.Millisecond || lo > 55*time.Millisecond || hi < 95*time.Millisecond {
			t.Fatalf("200 first open periods within [%v, %v], want them to spread over [50ms, 100ms]", lo, hi)
		}
	})
}

// TestRefusalNoAllocs checks that a refusal allocates nothing, with the
// hooks on.
func TestRefusalNoAllocs(t *testing.T) {
	tr := exact(New(testkit.Func(testkit.Reset), Settings{OpenTimeout: time.Hour},
		WithHooks(Hooks{OnStateChange: func(string, State, State) {}, OnReject: func(string, *http.Request) {}})))
	req, _ := http.NewRequest(http.MethodPost, "http://h:8080/v2/process-instances", nil)
	for range 5 {
		tr.RoundTrip(req)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := tr.RoundTrip(req); err == nil {
			t.Fatal("not refused")
		}
	}); n != 0 {
		t.Fatalf("%v allocations per refusal", n)
	}
}

// TestRefusalYields checks that goroutines looping on refusals do not keep
// the processor from the others: on one processor, eight of them spin
// while another goroutine yields 100 times; each of its turns must come
// after a few refusals, not after the spinners' whole time slices (10ms,
// tens of thousands of refusals).
func TestRefusalYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	tr := New(testkit.Func(testkit.Reset), Settings{OpenTimeout: time.Hour})
	req, _ := http.NewRequest(http.MethodPost, "http://h:8080/v2/process-instances", nil)
	for range 5 {
		tr.RoundTrip(req)
	}
	var (
		stop    atomic.Bool
		refused atomic.Int64
		wg      sync.WaitGroup
	)
	const spinners, turns = 8, 100
	for range spinners {
		wg.Go(func() {
			for !stop.Load() {
				tr.RoundTrip(req)
				refused.Add(1)
			}
		})
	}
	runtime.Gosched()
	before := refused.Load()
	for range turns {
		runtime.Gosched()
	}
	n := refused.Load() - before
	stop.Store(true)
	wg.Wait()
	if n > 10*spinners*turns {
		t.Fatalf("%d refusals while another goroutine took %d turns, want at most %d", n, turns, 10*spinners*turns)
	}
	t.Logf("%d refusals in %d turns of another goroutine", n, turns)
}
