package camundatest

import (
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Gateway is an emulated Camunda 8 gateway. Build one with [NewGateway],
// which also starts it on a loopback port, or with [New] to use it without a
// listener through [Gateway.Handler] or [Gateway.Transport].
//
// Every method is safe for concurrent use, including while requests are
// being served.
type Gateway struct {
	cfg config
	// now is the clock every decision reads; time.Now but for tests of
	// pure logic.
	now func() time.Time

	mu  sync.Mutex
	eng *engine

	capacity   Capacity
	bucket     bucket
	inFlight   int
	faults     Faults
	faultOn    map[string]bool // Faults.Routes as a set; nil: every route
	forced     map[string]*forced
	retryAfter time.Duration
	rng        *rand.Rand

	outOfDisk   bool
	diskTimer   *time.Timer
	outage      Outage
	outageTimer *time.Timer

	routes      map[string]*RouteStats
	hashes      map[string][]string
	maxInFlight int

	closed bool
	done   chan struct{} // closed by Close: ends waits
	wg     sync.WaitGroup

	// The listener's side, set by Start.
	started   bool
	addr      string
	url       string
	srv       *http.Server
	serveDone chan struct{}
	tr        *http.Transport
	client    *http.Client
	closeOnce sync.Once
}

// New builds a gateway that does not listen yet: serve it through Handler or
// Transport, or call Start. It fails if an option is invalid, naming the
// option.
func New(opts ...Option) (*Gateway, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	g := &Gateway{
		cfg:        cfg,
		now:        time.Now,
		eng:        newEngine(&cfg),
		retryAfter: cfg.retryAfter,
		rng:        rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)),
		routes:     make(map[string]*RouteStats),
		hashes:     make(map[string][]string),
		forced:     make(map[string]*forced),
		done:       make(chan struct{}),
	}
	g.setCapacity(cfg.capacity)
	g.setFaults(cfg.faults)
	return g, nil
}

// NewGateway builds a gateway and starts it on a loopback port (see
// WithAddr), like httptest.NewServer. It panics if an option is invalid or
// the address cannot be listened on. Close it when done.
func NewGateway(opts ...Option) *Gateway {
	g, err := New(opts...)
	if err != nil {
		panic(err)
	}
	if err := g.Start(); err != nil {
		panic(err)
	}
	return g
}

// Start listens on the configured address (see WithAddr) and serves the API
// there until Close. It fails if the gateway was started or closed before,
// or if the address is taken.
func (g *Gateway) Start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
		return errors.New("camundatest: Start: gateway closed")
	case g.started:
		return errors.New("camundatest: Start: gateway already started")
	}
	ln, err := net.Listen("tcp", g.cfg.addr)
	if err != nil {
		return fmt.Errorf("camundatest: Start: %w", err)
	}
	g.started = true
	g.addr = ln.Addr().String()
	g.url = "http://" + g.addr + g.cfg.contextPath
	g.tr = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, ForceAttemptHTTP2: false}
	g.client = &http.Client{Transport: g.tr}
	if g.outage != Refuse {
		g.serveLocked(ln)
	} else {
		ln.Close()
	}
	return nil
}

// serveLocked serves on ln with a fresh server: a closed http.Server cannot
// serve again, and an outage that refuses connections closes it.
func (g *Gateway) serveLocked(ln net.Listener) {
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Connections cut by outages and Close are expected; they are not
		// news worth a log line.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	g.srv, g.serveDone = srv, done
}

// stopServingLocked closes the current server, if any, and its connections,
// and returns a channel closed once its Serve loop has ended.
func (g *Gateway) stopServingLocked() <-chan struct{} {
	srv, done := g.srv, g.serveDone
	g.srv, g.serveDone = nil, nil
	if srv == nil {
		return nil
	}
	_ = srv.Close()
	return done
}

// URL returns the base URL of the API, context path included, such as
// http://127.0.0.1:41234 or http://127.0.0.1:41234/zeebe: append /v2/... to
// it. It is empty until Start, and stays the same through outages.
func (g *Gateway) URL() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.url
}

// Client returns an http.Client for this gateway: over the network once the
// gateway is started, through Transport before. Its connections are closed
// by Close.
func (g *Gateway) Client() *http.Client {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.client == nil {
		g.client = &http.Client{Transport: g.Transport()}
	}
	return g.client
}

// Close stops the gateway: the listener closes, waiting long polls end with
// no jobs, and Close returns once every request being served has been
// answered or abandoned, leaving no goroutine behind. Requests made after
// Close fail to connect. Close may be called more than once.
func (g *Gateway) Close() {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed = true
		stopTimer(&g.diskTimer)
		stopTimer(&g.outageTimer)
		stopped := g.stopServingLocked()
		tr := g.tr
		g.mu.Unlock()
		close(g.done)
		if stopped != nil {
			<-stopped
		}
		g.wg.Wait()
		if tr != nil {
			tr.CloseIdleConnections()
		}
	})
}

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// SetCapacity changes the gateway's capacity at once; requests in service
// keep their slots. It panics if a field is invalid.
func (g *Gateway) SetCapacity(c Capacity) {
	if err := c.check("SetCapacity"); err != nil {
		panic(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.setCapacity(c)
}

func (g *Gateway) setCapacity(c Capacity) {
	g.capacity = c
	if b := c.burst(); g.bucket.tokens > b {
		g.bucket.tokens = b
	}
}

// SetFaults replaces the injected faults at once. It panics if a field is
// invalid.
func (g *Gateway) SetFaults(f Faults) {
	if err := f.check("SetFaults"); err != nil {
		panic(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.setFaults(f)
}

func (g *Gateway) setFaults(f Faults) {
	f.Routes = slices.Clone(f.Routes)
	g.faults = f
	g.faultOn = nil
	if f.Routes != nil {
		g.faultOn = make(map[string]bool, len(f.Routes))
		for _, r := range f.Routes {
			g.faultOn[r] = true
		}
	}
}

// SetRetryAfter changes the Retry-After the gateway's refusals carry (see
// WithRetryAfter); 0 sends none. It panics if d is negative.
func (g *Gateway) SetRetryAfter(d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("camundatest: SetRetryAfter: negative duration %v", d))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.retryAfter = d
}

// StartOutOfDisk makes the broker's disk full until StopOutOfDisk: every
// command, job completion included, is refused with RESOURCE_EXHAUSTED and
// the detail "Cannot accept requests for partition 1. Broker is out of disk
// space", in the status of the gateway's Version. The topology still answers,
// reporting the partition unhealthy. It cancels a pending OutOfDiskFor end.
func (g *Gateway) StartOutOfDisk() {
	g.mu.Lock()
	defer g.mu.Unlock()
	stopTimer(&g.diskTimer)
	g.outOfDisk = true
}

// StopOutOfDisk ends an out-of-disk period, and cancels a pending
// OutOfDiskFor end.
func (g *Gateway) StopOutOfDisk() {
	g.mu.Lock()
	defer g.mu.Unlock()
	stopTimer(&g.diskTimer)
	g.outOfDisk = false
}

// OutOfDiskFor starts an out-of-disk period (see StartOutOfDisk) that ends
// by itself after d, unless a later Start or Stop call overrides it. The end
// runs in a goroutine of its own, as time.AfterFunc runs it: under
// testing/synctest, call synctest.Wait after the period to see it ended.
func (g *Gateway) OutOfDiskFor(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	stopTimer(&g.diskTimer)
	g.outOfDisk = true
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.diskTimer == t {
			g.diskTimer = nil
			g.outOfDisk = false
		}
	})
	g.diskTimer = t
}

// Outage is how the gateway fails during an outage.
type Outage uint8

// The kinds of outage.
const (
	// Refuse closes the listener and every open connection: new
	// connections are refused, as by a host whose gateway is down. When the
	// outage ends the gateway listens again on the same port.
	Refuse Outage = iota + 1
	// Reset keeps accepting connections but resets each one (TCP RST) once
	// a request has been read from it, as a gateway that crashes mid-request:
	// the client cannot tell whether the request was carried out (it was
	// not).
	Reset
)

// String returns "refuse" or "reset".
func (o Outage) String() string {
	switch o {
	case Refuse:
		return "refuse"
	case Reset:
		return "reset"
	}
	return "none"
}

// StartOutage starts an outage of kind o that lasts until StopOutage, and
// cancels a pending OutageFor end. Through Transport, a Refuse outage fails
// each request with a dial error wrapping ECONNREFUSED, and a Reset outage
// with a read error wrapping ECONNRESET.
func (g *Gateway) StartOutage(o Outage) error {
	if o != Refuse && o != Reset {
		return fmt.Errorf("camundatest: StartOutage: unknown outage %d", o)
	}
	g.mu.Lock()
	stopTimer(&g.outageTimer)
	stopped, err := g.setOutageLocked(o)
	g.mu.Unlock()
	if stopped != nil {
		<-stopped
	}
	return err
}

// StopOutage ends an outage, listening again on the gateway's port after a
// Refuse outage, and cancels a pending OutageFor end. It fails if the port
// cannot be taken again; the gateway then still refuses connections, and a
// later StopOutage tries again.
func (g *Gateway) StopOutage() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	stopTimer(&g.outageTimer)
	_, err := g.setOutageLocked(0)
	return err
}

// OutageFor starts an outage of kind o (see StartOutage) that ends by itself
// after d, unless a later Start or Stop call overrides it. As with
// OutOfDiskFor, the end runs in a goroutine of its own.
func (g *Gateway) OutageFor(o Outage, d time.Duration) error {
	if err := g.StartOutage(o); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.outageTimer == t {
			g.outageTimer = nil
			// A failure to listen again leaves the outage on; StopOutage
			// reports it.
			_, _ = g.setOutageLocked(0)
		}
	})
	g.outageTimer = t
	return nil
}

// setOutageLocked moves to outage o, closing or reopening the listener as
// needed. It returns a channel to wait on, outside the lock, for a closed
// server to finish.
func (g *Gateway) setOutageLocked(o Outage) (<-chan struct{}, error) {
	prev := g.outage
	if g.closed {
		g.outage = o
		return nil, nil
	}
	switch {
	case o == Refuse && prev != Refuse:
		g.outage = o
		return g.stopServingLocked(), nil
	case o != Refuse && prev == Refuse && g.started:
		ln, err := net.Listen("tcp", g.addr)
		if err != nil {
			return nil, fmt.Errorf("camundatest: listening again on %s after an outage: %w", g.addr, err)
		}
		g.serveLocked(ln)
	}
	g.outage = o
	return nil, nil
}

// bucket is a token bucket; take is a pure function of its state and now.
type bucket struct {
	tokens float64
	last   time.Time
	primed bool
}

func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if !b.primed {
		b.primed, b.tokens, b.last = true, burst, now
	} else if now.After(b.last) {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}
