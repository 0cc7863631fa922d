package simtest

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Problem is the body of the server's backpressure answer, in the form
// Camunda 8.8.3 and later send it.
const Problem = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,` +
	`"detail":"Expected to handle request, but all retries have been exhausted",` +
	`"instance":"/v2/process-instances"}`

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
// A Server is safe for concurrent use. It reads the clock through the time
// package, so under testing/synctest the service time is simulated.
type Server struct {
	service time.Duration

	mu      sync.Mutex
	slots   int
	busy    int
	latency time.Duration
	jitter  float64
	rand    *rand.Rand

	accepted atomic.Int64
	rejected atomic.Int64
}

// NewServer returns a server with the given number of slots, each request
// holding one for service.
func NewServer(slots int, service time.Duration) *Server {
	return &Server{slots: slots, service: service, rand: rand.New(rand.NewPCG(1, 2))}
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
	// backpressure.
	Accepted, Rejected int64
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{Accepted: s.accepted.Load(), Rejected: s.rejected.Load()}
}

// RoundTrip answers req, a network latency after it arrives: 200 after the
// service time when a slot is free, a backpressure 503 at once otherwise, or
// the context's error if it ends first. It counts the attempt for the client of [Run] that sent
// it, if any. It closes req.Body, as a RoundTripper must.
func (s *Server) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	ctx := req.Context()
	c, _ := ctx.Value(clientKey{}).(*counters)
	if c != nil {
		c.attempts.Add(1)
	}
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if err := wait(ctx, latency); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.busy >= s.slots {
		s.mu.Unlock()
		s.rejected.Add(1)
		if c != nil {
			c.rejected.Add(1)
		}
		if err := wait(ctx, latency); err != nil {
			return nil, err
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
	s.mu.Unlock()
	if err == nil {
		err = wait(ctx, latency)
	}
	if err != nil {
		return nil, err
	}
	return respond(req, http.StatusOK, "application/json", `{}`), nil
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
		return ctx.Err()
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
