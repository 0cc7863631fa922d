package camundatest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ebb-go/ebb/verdict"
)

// Handler returns the gateway's HTTP handler, for serving it yourself or in
// memory. The handler honours the gateway's capacity, faults and outages
// (a Reset outage needs a ResponseWriter that can be hijacked; otherwise the
// handler aborts the request with http.ErrAbortHandler), and ends its waits
// when the request's context ends or the gateway closes.
func (g *Gateway) Handler() http.Handler { return http.HandlerFunc(g.serve) }

// op names the operations the gateway emulates.
type op uint8

const (
	opNone op = iota
	opTopology
	opCreateInstance
	opActivate
	opComplete
	opFail
	opThrowError
)

// bindsCapacity reports whether Capacity applies: the gateway answers the
// topology itself, and the broker always takes the drain commands.
func (o op) bindsCapacity() bool {
	return o == opCreateInstance || o == opActivate
}

// command reports whether the operation is a command the broker's disk
// must take.
func (o op) command() bool { return o != opTopology && o != opNone }

// hasBody reports whether the operation's request carries a body, whose
// media type is checked.
func (o op) hasBody() bool { return o != opTopology && o != opNone }

// reply is an answer before it is written.
type reply struct {
	status  int
	body    any
	ctype   string // of body; application/json when empty
	problem *verdict.Problem
	header  http.Header
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		g.write(w, reply{problem: problem(http.StatusServiceUnavailable, "UNAVAILABLE", "The gateway is shutting down", r.URL.Path)}, 0)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	defer g.wg.Done()

	route, o, allow := g.resolve(r)
	body, tooLarge, err := g.readBody(r.Body, route)
	if err != nil {
		// The client went away mid-body: nobody to answer.
		return
	}

	g.mu.Lock()
	st := g.routeStatsLocked(route)
	st.Requests++
	outage, latency := g.outage, g.faults.Latency
	g.mu.Unlock()

	if outage != 0 {
		g.mu.Lock()
		st.Resets++
		g.mu.Unlock()
		reset(w)
		return
	}
	if !g.sleep(r.Context(), latency) {
		return
	}

	// What the gateway refuses before any broker sees the request: an
	// unknown route or method, a body in a media type the route does not
	// take, a body too large, a body that does not bind or validate.
	v := g.cfg.version
	instance := r.URL.Path
	var bad *verdict.Problem
	switch {
	case o == opNone:
		g.count(st, func(s *RouteStats) { s.Accepted++ })
		g.write(w, g.unknown(r, allow), 0)
		return
	case o.hasBody():
		bad = checkContentType(v, r.Header.Get("Content-Type"), instance)
	}
	if bad == nil && tooLarge {
		bad = problem(http.StatusRequestEntityTooLarge, "Payload Too Large",
			fmt.Sprintf("The request body exceeds %d bytes", g.cfg.maxBodySize), instance)
	}
	var req any
	if bad == nil {
		req, bad = parse(v, o, r.URL.Path, g.cfg.contextPath, body)
	}
	if bad != nil {
		bad.Instance = instance
		g.count(st, func(s *RouteStats) { s.Accepted++ })
		g.write(w, reply{problem: bad}, 0)
		return
	}
	keys := negotiate(v, r.Header.Get("Accept"))

	// The gates, in the order a request meets them: an answer forced by
	// the test, the faults of the way to the broker, the broker's disk,
	// then its capacity.
	g.mu.Lock()
	now := g.now()
	if status := g.takeForcedLocked(route); status != 0 {
		st.Forced++
		retryAfter := g.retryAfter
		g.mu.Unlock()
		g.write(w, reply{problem: forcedAnswer(o, status, req, instance)}, retryAfter)
		return
	}
	f := g.drawFaultLocked(route)
	retryAfter := g.retryAfter
	var refused *verdict.Problem
	admitted := false
	switch {
	case f != noFault && !g.faults.AfterProcessing:
		st.Faults++
		g.mu.Unlock()
		g.write(w, reply{problem: f.problem(instance)}, retryAfter)
		return
	case g.outOfDisk && o.command():
		st.OutOfDisk++
		refused = backpressure(v, g.cfg.exceptionTitle, true, o == opActivate, jobTypeOf(req), instance)
	case o.bindsCapacity():
		if g.admitLocked(now) {
			admitted = true
		} else {
			st.Backpressure++
			refused = backpressure(v, g.cfg.exceptionTitle, false, o == opActivate, jobTypeOf(req), instance)
		}
	}
	if refused == nil && f == noFault {
		st.Accepted++
	}
	g.mu.Unlock()
	if refused != nil {
		g.write(w, reply{problem: refused}, retryAfter)
		return
	}

	rep, ok := g.execute(r.Context(), o, req, instance, admitted, keys)
	if !ok {
		return
	}
	if f != noFault {
		g.count(st, func(s *RouteStats) { s.Faults++ })
		rep = reply{problem: f.problem(instance)}
	} else {
		retryAfter = 0
	}
	g.write(w, rep, retryAfter)
}

// execute serves an accepted request: its service time, holding its slot if
// admitted, then the operation; a job activation then waits for jobs without
// its slot. It returns false if the request's context or the gateway ended
// first, and the request was abandoned.
func (g *Gateway) execute(ctx context.Context, o op, req any, instance string, admitted bool, keys keyStyle) (reply, bool) {
	release := func() {
		if admitted {
			admitted = false
			g.mu.Lock()
			g.inFlight--
			g.mu.Unlock()
		}
	}
	defer release()

	g.mu.Lock()
	service := g.capacity.ServiceTime
	g.mu.Unlock()
	if !g.sleep(ctx, service) {
		return reply{}, false
	}

	g.mu.Lock()
	now := g.now()
	v := g.cfg.version
	switch o {
	case opTopology:
		defer g.mu.Unlock()
		return reply{status: http.StatusOK, body: topologyAnswer(v, g.outOfDisk), ctype: keys.ctype}, true
	case opCreateInstance:
		defer g.mu.Unlock()
		return g.createLocked(req.(*createRequest), instance, keys), true
	case opComplete:
		defer g.mu.Unlock()
		c := req.(*jobCommand)
		return noContentOr(g.eng.complete(c.key, c.vars, now), "COMPLETE", instance), true
	case opFail:
		defer g.mu.Unlock()
		c := req.(*jobCommand)
		return noContentOr(g.eng.fail(c.key, c.retries, c.backoff, c.vars, now), "FAIL", instance), true
	case opThrowError:
		defer g.mu.Unlock()
		c := req.(*jobCommand)
		return noContentOr(g.eng.throwError(c.key, c.vars, now), "THROW_ERROR", instance), true
	}
	g.mu.Unlock()
	release()
	return g.longPoll(ctx, req.(*activateRequest), keys)
}

func noContentOr(r *refusal, intent, instance string) reply {
	if r != nil {
		return reply{problem: rejection(intent, r.code, r.reason, instance)}
	}
	return reply{status: http.StatusNoContent}
}

// longPoll activates jobs, waiting for some until the request's timeout, as
// the gateway parks activation requests instead of answering them empty.
func (g *Gateway) longPoll(ctx context.Context, a *activateRequest, keys keyStyle) (reply, bool) {
	wait := g.cfg.longPollTimeout
	if a.requestTimeout != 0 {
		wait = time.Duration(a.requestTimeout) * time.Millisecond
	}
	g.mu.Lock()
	deadline := g.now().Add(wait)
	g.mu.Unlock()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	answer := func(jobs []jobView) reply {
		out := make([]object, 0, len(jobs))
		for _, j := range jobs {
			out = append(out, jobAnswer(g.cfg.version, keys, j))
		}
		return reply{status: http.StatusOK, body: object{}.with("jobs", out), ctype: keys.ctype}
	}
	for {
		g.mu.Lock()
		now := g.now()
		jobs, next := g.eng.activate(a.Type, a.max, time.Duration(a.timeout)*time.Millisecond, a.worker, a.fetch, a.withLease, now)
		changed := g.eng.waitChan(a.Type)
		g.mu.Unlock()
		if len(jobs) > 0 || a.requestTimeout < 0 || !now.Before(deadline) {
			return answer(jobs), true
		}
		wake := deadline
		if !next.IsZero() && next.Before(wake) {
			wake = next
		}
		if timer == nil {
			timer = time.NewTimer(wake.Sub(now))
		} else {
			timer.Reset(wake.Sub(now))
		}
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			return reply{}, false
		case <-g.done:
			return answer(nil), true
		}
	}
}

// admitLocked takes a slot and a token for a request Capacity binds, or
// reports that there are none to take.
func (g *Gateway) admitLocked(now time.Time) bool {
	c := g.capacity
	if c.Slots > 0 && g.inFlight >= c.Slots {
		return false
	}
	if c.Rate > 0 && !g.bucket.take(now, c.Rate, c.burst()) {
		return false
	}
	g.inFlight++
	g.maxInFlight = max(g.maxInFlight, g.inFlight)
	return true
}

// drawFaultLocked decides whether a request on route gets a fault. It draws
// from the random source only when a share applies to the route, so that
// the draws, and a seeded run, depend on nothing else.
func (g *Gateway) drawFaultLocked(route string) fault {
	f := g.faults
	if !f.hasShares() || (g.faultOn != nil && !g.faultOn[route]) {
		return noFault
	}
	u := g.rng.Float64()
	switch {
	case u < f.Unavailable:
		return faultUnavailable
	case u < f.Unavailable+f.Aborted:
		return faultAborted
	case u < f.Unavailable+f.Aborted+f.DeadlineExceeded:
		return faultDeadlineExceeded
	}
	return noFault
}

func (g *Gateway) count(st *RouteStats, f func(*RouteStats)) {
	g.mu.Lock()
	f(st)
	g.mu.Unlock()
}

// sleep waits for d, or until ctx or the gateway ends, reporting whether the
// whole wait passed.
func (g *Gateway) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-g.done:
		return false
	}
}

// resolve finds the route template and the operation of a request; for a
// known route with the wrong method it returns opNone and the method to
// allow.
func (g *Gateway) resolve(r *http.Request) (route string, o op, allow string) {
	path, ok := strings.CutPrefix(r.URL.Path, g.cfg.contextPath)
	if !ok || !strings.HasPrefix(path, "/v2/") {
		return verdict.Other, opNone, ""
	}
	route = verdict.RouteOf(path).Template
	if route == "" {
		return verdict.Other, opNone, ""
	}
	want := http.MethodPost
	switch route {
	case "/v2/topology":
		o, want = opTopology, http.MethodGet
	case "/v2/process-instances":
		o = opCreateInstance
	case "/v2/jobs/activation":
		o = opActivate
	case "/v2/jobs/{jobKey}/completion":
		o = opComplete
	case "/v2/jobs/{jobKey}/failure":
		o = opFail
	case "/v2/jobs/{jobKey}/error":
		o = opThrowError
	default:
		return route, opNone, ""
	}
	if r.Method != want {
		return route, opNone, want
	}
	return route, o, ""
}

func (g *Gateway) unknown(r *http.Request, allow string) reply {
	if allow != "" {
		return reply{
			problem: problem(http.StatusMethodNotAllowed, "Method Not Allowed",
				fmt.Sprintf("Method '%s' is not supported.", r.Method), r.URL.Path),
			header: http.Header{"Allow": {allow}},
		}
	}
	return reply{problem: problem(http.StatusNotFound, "Not Found",
		fmt.Sprintf("No endpoint %s %s. camundatest emulates the topology, process instance creation and the job endpoints", r.Method, r.URL.Path),
		r.URL.Path)}
}

// readBody reads the whole body, hashing it when asked to, and keeps at
// most the configured maximum of it in memory: a large upload costs the
// gateway no memory, and its hash is still complete.
func (g *Gateway) readBody(rc io.ReadCloser, route string) ([]byte, bool, error) {
	var buf bytes.Buffer
	w := &capped{buf: &buf, max: g.cfg.maxBodySize}
	var dst io.Writer = w
	h := sha256.New()
	if g.cfg.hashBodies {
		dst = io.MultiWriter(w, h)
	}
	if rc != nil { // a server always sets Body; a hand-built request may not
		if _, err := io.Copy(dst, rc); err != nil {
			return nil, false, err
		}
	}
	if g.cfg.hashBodies {
		sum := hex.EncodeToString(h.Sum(nil))
		g.mu.Lock()
		g.hashes[route] = append(g.hashes[route], sum)
		g.mu.Unlock()
	}
	return buf.Bytes(), w.over, nil
}

// capped keeps the first max bytes written to it and drops the rest.
type capped struct {
	buf  *bytes.Buffer
	max  int64
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.max - int64(c.buf.Len())
	if int64(len(p)) > room {
		c.over = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

// write sends an answer; a problem goes out as application/problem+json,
// with a Retry-After when retryAfter is set, any other body in its
// negotiated media type.
func (g *Gateway) write(w http.ResponseWriter, rep reply, retryAfter time.Duration) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	status, body := rep.status, rep.body
	if rep.problem != nil {
		status, body = rep.problem.Status, rep.problem
		h.Set("Content-Type", mediaProblem)
		if retryAfter > 0 {
			h.Set("Retry-After", strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10))
		}
	} else if body != nil {
		h.Set("Content-Type", cmp.Or(rep.ctype, mediaJSON))
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	data, err := json.Marshal(body)
	if err != nil {
		// Every body is built here from plain values; this cannot happen.
		panic(fmt.Sprintf("camundatest: encoding an answer: %v", err))
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// reset cuts the connection with a TCP RST.
func reset(w http.ResponseWriter) {
	if m, ok := w.(*memWriter); ok {
		m.reset = true
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// The requests, as parse returns them.

type activateRequest struct {
	Type                    string
	worker                  string
	timeout, requestTimeout int64
	max                     int
	fetch                   []string
	withLease               bool
}

type createRequest struct {
	id, key    string
	keySet     bool
	version    *int64
	vars       map[string]json.RawMessage
	tenantID   string
	tags       []string
	businessID *string
}

// jobCommand is a completion, failure or thrown error.
type jobCommand struct {
	key     int64
	vars    map[string]json.RawMessage
	retries int
	backoff time.Duration
}

func jobTypeOf(req any) string {
	if a, ok := req.(*activateRequest); ok {
		return a.Type
	}
	return ""
}

// createLocked starts a process instance.
func (g *Gateway) createLocked(c *createRequest, instance string, keys keyStyle) reply {
	var d *definition
	if c.keySet {
		key, _ := strconv.ParseInt(c.key, 10, 64)
		if d = g.eng.defsByKey[key]; d == nil {
			return reply{problem: rejection("CREATE", "NOT_FOUND",
				fmt.Sprintf("Expected to find process definition with key '%d', but none found", key), instance)}
		}
	} else {
		d = g.eng.definition(c.id)
	}
	if v := c.version; v != nil && *v != -1 && *v != int64(d.version) {
		return reply{problem: rejection("CREATE", "NOT_FOUND",
			fmt.Sprintf("Expected to find process definition with process ID '%s' and version '%d', but none found", d.id, *v), instance)}
	}
	tenant := c.tenantID
	if tenant == "" {
		tenant = g.cfg.tenantID
	}
	inst, _ := g.eng.create(d, tenant, c.vars, c.tags, c.businessID)
	return reply{status: http.StatusOK, body: createdAnswer(g.cfg.version, keys, d, inst), ctype: keys.ctype}
}
