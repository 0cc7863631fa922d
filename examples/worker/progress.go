package main

import (
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"

	"github.com/ebb-go/ebb/limiter"
	"github.com/ebb-go/ebb/transport"
	"github.com/ebb-go/ebb/verdict"
)

// progress samples the run once a second: the demo's own counters, ebb's
// backpressure counter and the chain's snapshot (transport.Of(client).Snapshot).
// It writes a line per sample when out is not nil, and keeps the range of
// the limiter's limit for the summary either way.
type progress struct {
	sum  *summary
	out  io.Writer
	host string // host:port of the cluster, as the snapshot names it

	mu                 sync.Mutex
	prev               sample
	minLimit, maxLimit int // over the samples in which a limit was set
}

// sample is the state of the run at one moment.
type sample struct {
	at           time.Time
	jobs         int64 // jobs answered
	creations    int64
	backpressure float64
	host         transport.HostSnapshot
	limiterOff   bool
	breakerOff   bool
}

func newProgress(sum *summary, out io.Writer) *progress {
	p := &progress{sum: sum, out: out, host: hostOf(sum.address)}
	p.prev = p.take(sum.started)
	return p
}

// hostOf is the host of a URL as the chain's snapshot names it: host:port
// in lower case, the port filled in from the scheme (verdict.Host.Label).
func hostOf(address string) string {
	u, err := url.Parse(address)
	if err != nil {
		return ""
	}
	return verdict.Host{Scheme: u.Scheme, Addr: u.Host}.Label()
}

// take reads the counters and the chain's snapshot.
func (p *progress) take(now time.Time) sample {
	s := sample{at: now, jobs: p.sum.worker.handled()}
	if l := p.sum.loader; l != nil {
		s.creations = l.creates.ok.Load()
	}
	if m, err := readMetrics(p.sum.registry, p.sum.namespace); err == nil {
		s.backpressure = m.sum("backpressure_total")
	}
	snap := p.sum.chain.Snapshot()
	s.limiterOff = snap.Settings.Limiter.Profile == limiter.Off
	s.breakerOff = snap.Settings.Breaker.Disabled
	s.host.Host = p.host
	for _, h := range snap.Hosts {
		if h.Host == p.host {
			s.host = h
		}
	}
	return s
}

// start samples at each tick (once a second when ticks is nil) until the
// returned function is called.
func (p *progress) start(ticks <-chan time.Time) (stop func()) {
	var ticker *time.Ticker
	if ticks == nil {
		ticker = time.NewTicker(time.Second)
		ticks = ticker.C
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case now := <-ticks:
				p.tick(now)
			case <-done:
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		if ticker != nil {
			ticker.Stop()
		}
	}
}

// tick takes a sample and prints its line.
func (p *progress) tick(now time.Time) {
	s := p.take(now)
	p.mu.Lock()
	prev := p.prev
	p.prev = s
	if l := s.host.Limiter.Limit; l > 0 && !s.limiterOff {
		if p.minLimit == 0 || l < p.minLimit {
			p.minLimit = l
		}
		p.maxLimit = max(p.maxLimit, l)
	}
	p.mu.Unlock()
	if p.out != nil {
		fmt.Fprintln(p.out, progressLine(prev, s, p.sum.started, p.sum.loader != nil))
	}
}

// limitRange returns the lowest and highest limit sampled; 0, 0 when the
// limit was never set.
func (p *progress) limitRange() (lo, hi int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.minLimit, p.maxLimit
}

// progressLine is one line of progress: rates over the time from prev to
// cur, and the chain's state at cur.
func progressLine(prev, cur sample, started time.Time, creating bool) string {
	dt := cur.at.Sub(prev.at).Seconds()
	rate := func(a, b float64) float64 {
		if dt <= 0 {
			return 0
		}
		return (b - a) / dt
	}
	line := fmt.Sprintf("%4.0fs  jobs %4.0f/s", cur.at.Sub(started).Seconds(), rate(float64(prev.jobs), float64(cur.jobs)))
	if creating {
		line += fmt.Sprintf("  creations %4.0f/s", rate(float64(prev.creations), float64(cur.creations)))
	}
	line += fmt.Sprintf("  backpressure %3.0f/s", rate(prev.backpressure, cur.backpressure))
	l := cur.host.Limiter
	switch {
	case cur.limiterOff:
		line += "  limiter off"
	case l.Limit == limiter.Unlimited:
		line += fmt.Sprintf("  limit none (in flight %d)", l.InFlight)
	default:
		line += fmt.Sprintf("  limit %d (in flight %d, waiting %d)", l.Limit, l.InFlight, l.Waiting)
	}
	if cur.breakerOff {
		return line + "  breaker off"
	}
	return line + "  breaker " + cur.host.Breaker.State.String()
}
