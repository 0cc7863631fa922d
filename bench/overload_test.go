package bench

// The overload scenario of ebb's DESIGN.md (64 goroutines against a server
// of 8 slots for a simulated minute), run through each contender, with the
// server settings of ebb's own simulation (transport/sim_test.go) so that
// the figures can be set side by side.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/simtest"
)

// body is sent with every request: a body is what makes a library that
// buffers bodies pay for it.
const body = `{"processDefinitionId":"order"}`

// simServer is ebb's simulated server: 8 slots of 10ms on average (5 to
// 15ms) behind 0.1ms of network each way, 800 requests a second at most.
func simServer() *simtest.Server {
	srv := simtest.NewServer(8, 10*time.Millisecond)
	srv.SetLatency(100 * time.Microsecond)
	srv.SetJitter(0.5)
	return srv
}

// timer records how long each logical request took to get its final
// answer, success or failure; requests cut short by the end of the run are
// left out, as simtest leaves them out of its counts.
type timer struct {
	next http.RoundTripper
	mu   *sync.Mutex
	d    *[]time.Duration
}

func (t timer) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	if req.Context().Err() == nil {
		t.mu.Lock()
		*t.d = append(*t.d, time.Since(start))
		t.mu.Unlock()
	}
	return resp, err
}

// outcome is one contender's row of a table.
type outcome struct {
	name          string
	goodput       float64 // share of the server's capacity
	total         simtest.Counts
	clientJain    float64 // over the goroutines' successes
	processJain   float64 // over the processes' successes (fleet only)
	p50, p99, max time.Duration
}

// run splits 64 goroutines into the given number of processes, each with
// a client of its own built by c, and drives them against one simulated
// server for a simulated minute.
func run(t *testing.T, c contender, processes int) outcome {
	var o outcome
	synctest.Test(t, func(t *testing.T) {
		srv := simServer()
		var (
			mu        sync.Mutex
			latencies []time.Duration
			loads     []simtest.Load
		)
		for i := range processes {
			rt := timer{next: c.new(srv), mu: &mu, d: &latencies}
			loads = append(loads, simtest.Load{Name: fmt.Sprint("process ", i), Transport: rt, Clients: 64 / processes, Body: body})
		}
		res := simtest.Run(time.Minute, loads...)
		var perClient, perProcess []float64
		for _, l := range res.Loads {
			perProcess = append(perProcess, float64(l.Total.Succeeded))
			for _, cl := range l.Clients {
				perClient = append(perClient, float64(cl.Succeeded))
			}
		}
		slices.Sort(latencies)
		q := func(f float64) time.Duration {
			if len(latencies) == 0 {
				return 0
			}
			return latencies[int(f*float64(len(latencies)-1))]
		}
		o = outcome{
			name: c.name, goodput: res.Goodput() / srv.Capacity(), total: res.Total(),
			clientJain: simtest.Jain(perClient...), processJain: simtest.Jain(perProcess...),
			p50: q(0.5), p99: q(0.99), max: q(1),
		}
	})
	return o
}

// table renders outcomes as a Markdown table, the form README.md keeps.
func table(rows []outcome, fleet bool) string {
	var b strings.Builder
	b.WriteString("\n| client | goodput | attempts | rejected | failed | Jain, goroutines |")
	if fleet {
		b.WriteString(" Jain, processes |")
	}
	b.WriteString(" p50 | p99 | max |\n|---|--:|--:|--:|--:|--:|")
	if fleet {
		b.WriteString("--:|")
	}
	b.WriteString("--:|--:|--:|\n")
	for _, o := range rows {
		fmt.Fprintf(&b, "| %s | %.1f%% | %d | %.2f%% | %.2f%% | %.3f |", o.name, 100*o.goodput, o.total.Attempts,
			100*o.total.RejectedShare(), 100*o.total.FailedShare(), o.clientJain)
		if fleet {
			fmt.Fprintf(&b, " %.3f |", o.processJain)
		}
		fmt.Fprintf(&b, " %s | %s | %s |\n", round(o.p50), round(o.p99), round(o.max))
	}
	return b.String()
}

func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

// runAll runs every contender; peers are the other libraries' rows, and
// the bare server's.
func runAll(t *testing.T, processes int) (ebb outcome, peers []outcome, all []outcome) {
	for _, c := range contenders {
		o := run(t, c, processes)
		all = append(all, o)
		switch c.name {
		case "ebb":
			ebb = o
		case "ebb, limiter off":
		default:
			peers = append(peers, o)
		}
	}
	return ebb, peers, all
}

// checkEbb asserts what holds for ebb's default chain with a wide margin
// in every run: the server's capacity is used, no request fails, and the
// server is shared evenly.
func checkEbb(t *testing.T, ebb outcome) {
	t.Helper()
	if ebb.goodput < 0.9 {
		t.Errorf("ebb: goodput %.1f%% of capacity, want >= 90%%", 100*ebb.goodput)
	}
	if f := ebb.total.FailedShare(); f > 0.01 {
		t.Errorf("ebb: %.2f%% of requests failed, want <= 1%%", 100*f)
	}
	if ebb.clientJain < 0.9 {
		t.Errorf("ebb: Jain's index over the goroutines %.3f, want >= 0.9", ebb.clientJain)
	}
}

// TestOverloadComparison is one process of 64 goroutines against 8 slots.
func TestOverloadComparison(t *testing.T) {
	ebb, peers, all := runAll(t, 1)
	t.Logf("64 goroutines, 8 slots (800/s), one simulated minute:%s", table(all, false))
	checkEbb(t, ebb)
	for _, p := range peers {
		// ebb's share is about a third of the best peer's; the margin
		// holds whatever order the scheduler picks.
		if ebb.total.RejectedShare() >= p.total.RejectedShare() {
			t.Errorf("ebb: %.2f%% of attempts rejected, %s %.2f%%: want fewer", 100*ebb.total.RejectedShare(), p.name, 100*p.total.RejectedShare())
		}
		if ebb.clientJain <= p.clientJain {
			t.Errorf("ebb: Jain's index over the goroutines %.3f, %s %.3f: want higher", ebb.clientJain, p.name, p.clientJain)
		}
	}
}

// TestFleetComparison is four processes of 16 goroutines, each with a
// chain of its own, sharing 8 slots. Over 20 runs ebb refused 0.87–1.05%
// of attempts, the peers that back off (go-retryablehttp, failsafe-go's
// breaker per request) 2.06% and more. The two the server refuses most of
// what they send (no retry, failsafe-go's breaker per attempt) have no
// backoff to compare with.
func TestFleetComparison(t *testing.T) {
	ebb, peers, all := runAll(t, 4)
	t.Logf("4 processes of 16 goroutines, 8 slots (800/s), one simulated minute:%s", table(all, true))
	checkEbb(t, ebb)
	if ebb.processJain < 0.9 {
		t.Errorf("ebb: Jain's index over the processes %.3f, want >= 0.9", ebb.processJain)
	}
	for _, p := range peers {
		if p.total.RejectedShare() > 0.3 {
			continue // refused most of what it sends
		}
		if ebb.total.RejectedShare() >= p.total.RejectedShare() {
			t.Errorf("ebb: %.2f%% of attempts rejected, %s %.2f%%: want fewer", 100*ebb.total.RejectedShare(), p.name, 100*p.total.RejectedShare())
		}
	}
}
