package simtest

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Problem is the body of the server's backpressure answer, in the form
// Camunda 8.8.3 and later send it.
const Problem = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,` +
	`"detail":"Expected to handle request, but all retries have been exhausted",` +
	`"instance":"/v2/process-instances"}`

// UnavailableProblem is the body of the server's answer during an
// [OutageUnavailable]: Camunda's 503 for a partition without a leader.
const UnavailableProblem = `{"type":"about:blank","title":"UNAVAILABLE","status":503,` +
	`"detail":"partition unavailable","instance":"/v2/process-instances"}`

// Outage is what the server answers while it is down.
type Outage uint8

// The outages.
const (
	// NoOutage: the server serves.
	NoOutage Outage = iota
	// OutageUnavailable answers every request at once with a 503
	// UNAVAILABLE problem, as a gateway whose partitions lost their leader.
	OutageUnavailable
	// OutageRefused fails every request as a refused connection does.
	OutageRefused
)

// ActivationPath ends the path of a job activation, which the server serves
// as Camunda's gateway does: a long poll (see [Server]).
const ActivationPath = "/v2/jobs/activation"

// DefaultLongPoll is how long the server parks a job activation that finds
// no job, as the gateway's default requestTimeout.
const DefaultLongPoll = 10 * time.Second

// Server is an in-memory http.RoundTripper standing for a server with a
// fixed number of slots: each accepted request holds one slot for the
// service time and is answered 200; a request arriving while every slot is
// taken is refused at once with Camunda's backpressure answer, a 503
// application/problem+json titled RESOURCE_EXHAUSTED. It never queues, so
// the only signal of overload a client gets is the rejection itself, as
// with Camunda's gateway.
//
// A one-way network latency ([Server.SetLatency]) separates a client from
// the server: a slot freed by one answer stays free for a round trip before
// the same client's next request can take it, and another client's request
// arriving in between gets it, as on a real network. Without it a client in
// a closed loop would keep its slot for ever.
//
// Each accepted request to any path but a job activation creates a job. A
// job activation (a path ending in [ActivationPath]) is a long poll: it
// holds a slot for the service time like any request, then takes a job if
// there is one and answers at once; otherwise it waits, holding no slot,
// until a job comes or the long poll's time ([Server.SetLongPoll]) passes,
// and answers 200 all the same.
//
// A Server is safe for concurrent use. It reads the clock through the time
// package, so under testing/synctest the service time is simulated.
type Server struct {
	service time.Duration

	mu       sync.Mutex
	slots    int
	busy     int
	latency  time.Duration
	jitter   float64
	refuse   float64 // share refused at random
	outage   Outage
	longPoll time.Duration
	rand     *rand.Rand
	jobs     int
	jobAdded chan struct{} // closed and replaced when a job is created

	noJobs bool

	accepted, rejected, randomly, failed atomic.Int64
	activations, parked                  atomic.Int64
}

// NewServer returns a server with the given number of slots, each request
// holding one for service.
func NewServer(slots int, service time.Duration) *Server {
	return &Server{slots: slots, service: service, longPoll: DefaultLongPoll,
		rand: rand.New(rand.NewPCG(1, 2)), jobAdded: make(chan struct{})}
}

// SetRandomRefusals makes the server refuse the share p of requests at
// random with backpressure, whatever its load, before it looks for a slot:
// a cluster one of whose partitions is overloaded. Zero, the default, means
// none.
func (s *Server) SetRandomRefusals(p float64) {
	s.mu.Lock()
	s.refuse = p
	s.mu.Unlock()
}

// SetOutage takes the server down (or up again with NoOutage): requests
// arriving while it is down get the outage's answer; those already holding
// a slot finish.
func (s *Server) SetOutage(o Outage) {
	s.mu.Lock()
	s.outage = o
	s.mu.Unlock()
}

// SetJobs says whether accepted requests create jobs (the default) or not,
// so that job activations find none and wait for their whole long poll.
func (s *Server) SetJobs(on bool) {
	s.mu.Lock()
	s.noJobs = !on
	s.mu.Unlock()
}

// SetLongPoll sets how long a job activation that finds no job waits for
// one. [DefaultLongPoll] unless set.
func (s *Server) SetLongPoll(d time.Duration) {
	s.mu.Lock()
	s.longPoll = d
	s.mu.Unlock()
}

// SetSlots changes the number of slots. Requests already holding a slot
// keep it; a smaller number takes effect as they finish.
func (s *Server) SetSlots(n int) {
	s.mu.Lock()
	s.slots = n
	s.mu.Unlock()
}

// SetLatency sets the one-way network latency between the clients and the
// server: every request takes it to arrive and every answer to return.
// Zero, the default, means none.
func (s *Server) SetLatency(oneWay time.Duration) {
	s.mu.Lock()
	s.latency = oneWay
	s.mu.Unlock()
}

// SetJitter spreads the service time of each request uniformly over
// [service·(1-f), service·(1+f)], from a random source seeded the same way
// for every Server; f must be in [0, 1]. Zero, the default, means every
// request takes exactly the service time. With a fixed service time the
// slots free in a fixed rhythm, and whether one client's request finds
// another's slot free depends on their phases for the whole run; a real
// server's times vary.
func (s *Server) SetJitter(f float64) {
	s.mu.Lock()
	s.jitter = f
	s.mu.Unlock()
}

// Slots returns the number of slots.
func (s *Server) Slots() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slots
}

// Capacity returns the most requests per second the server can answer 200
// with its current slots: slots divided by the (mean) service time.
func (s *Server) Capacity() float64 {
	return float64(s.Slots()) / s.service.Seconds()
}

// Stats are a server's counters.
type Stats struct {
	// Accepted counts requests given a slot, Rejected those refused with
	// backpressure, RandomlyRejected those of them refused at random
	// (SetRandomRefusals), Failed those answered by an outage.
	Accepted, Rejected, RandomlyRejected, Failed int64
	// Activations counts the job activations that took a job, Parked those
	// that found none and waited.
	Activations, Parked int64
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{
		Accepted: s.accepted.Load(), Rejected: s.rejected.Load(),
		RandomlyRejected: s.randomly.Load(), Failed: s.failed.Load(),
		Activations: s.activations.Load(), Parked: s.parked.Load(),
	}
}

// RoundTrip answers req, a network latency after it arrives: 200 after the
// service time when a slot is free, a backpressure 503 at once otherwise, or
// the context's error if it ends first. It counts the attempt for the
// client of [Run] that sent it, if any. It closes req.Body, as a
// RoundTripper must.
func (s *Server) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	ctx := req.Context()
	c, _ := ctx.Value(clientKey{}).(*counters)
	if c != nil {
		c.attempt()
	}
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if err := wait(ctx, latency); err != nil {
		return nil, err
	}
	s.mu.Lock()
	outage := s.outage
	random := s.refuse > 0 && s.rand.Float64() < s.refuse
	if outage != NoOutage || random || s.busy >= s.slots {
		s.mu.Unlock()
		if outage != NoOutage {
			s.failed.Add(1)
		} else {
			s.rejected.Add(1)
			if random {
				s.randomly.Add(1)
			}
			if c != nil {
				c.reject()
			}
		}
		if err := wait(ctx, latency); err != nil {
			return nil, err
		}
		switch outage {
		case OutageUnavailable:
			return respond(req, http.StatusServiceUnavailable, "application/problem+json", UnavailableProblem), nil
		case OutageRefused:
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		}
		return respond(req, http.StatusServiceUnavailable, "application/problem+json", Problem), nil
	}
	s.busy++
	d := s.service
	if s.jitter > 0 {
		d = time.Duration(float64(d) * (1 + s.jitter*(2*s.rand.Float64()-1)))
	}
	s.mu.Unlock()
	s.accepted.Add(1)
	err := wait(ctx, d)
	s.mu.Lock()
	s.busy--
	activation := strings.HasSuffix(req.URL.Path, ActivationPath)
	if err == nil && !activation && !s.noJobs {
		s.jobs++
		close(s.jobAdded)
		s.jobAdded = make(chan struct{})
	}
	s.mu.Unlock()
	if err == nil && activation {
		err = s.activate(ctx)
	}
	if err == nil {
		err = wait(ctx, latency)
	}
	if err != nil {
		return nil, err
	}
	return respond(req, http.StatusOK, "application/json", `{}`), nil
}

// activate takes a job for a job activation, waiting for one for the long
// poll's time if there is none. Finding none is not an error.
func (s *Server) activate(ctx context.Context) error {
	s.mu.Lock()
	deadline := time.Now().Add(s.longPoll)
	s.mu.Unlock()
	parked := false
	for {
		s.mu.Lock()
		if s.jobs > 0 {
			s.jobs--
			s.mu.Unlock()
			s.activations.Add(1)
			return nil
		}
		added := s.jobAdded
		s.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		if !parked {
			parked = true
			s.parked.Add(1)
		}
		t := time.NewTimer(left)
		select {
		case <-added:
			t.Stop()
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		}
	}
}

// wait sleeps for d unless ctx ends first.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func respond(req *http.Request, code int, contentType, body string) *http.Response {
	return &http.Response{
		Status:        strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {contentType}},
		Body:          readCloser{strings.NewReader(body)},
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }
