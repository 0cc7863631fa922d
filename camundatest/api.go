package camundatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// reply is an answer before it is written.
type reply struct {
	status  int
	body    any
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

	instance := r.URL.Path
	if o == opNone {
		g.count(st, func(s *RouteStats) { s.Accepted++ })
		g.write(w, g.unknown(r, allow), 0)
		return
	}
	if tooLarge {
		g.count(st, func(s *RouteStats) { s.Accepted++ })
		g.write(w, reply{problem: problem(http.StatusRequestEntityTooLarge, "Payload Too Large",
			fmt.Sprintf("The request body exceeds %d bytes", g.cfg.maxBodySize), instance)}, 0)
		return
	}
	req, bad := parse(o, r.URL.Path, g.cfg.contextPath, body)
	if bad != nil {
		bad.Instance = instance
		g.count(st, func(s *RouteStats) { s.Accepted++ })
		g.write(w, reply{problem: bad}, 0)
		return
	}

	// The gates, in the order a request meets them: the faults of the way
	// to the broker, the broker's disk, then its capacity.
	g.mu.Lock()
	now := g.now()
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
		refused = backpressure(g.cfg.version, g.cfg.exceptionTitle, true, o == opActivate, jobTypeOf(req), instance)
	case o.bindsCapacity():
		if g.admitLocked(now) {
			admitted = true
		} else {
			st.Backpressure++
			refused = backpressure(g.cfg.version, g.cfg.exceptionTitle, false, o == opActivate, jobTypeOf(req), instance)
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

	rep, ok := g.execute(r.Context(), o, req, instance, admitted)
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
func (g *Gateway) execute(ctx context.Context, o op, req any, instance string, admitted bool) (reply, bool) {
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
	switch o {
	case opTopology:
		defer g.mu.Unlock()
		return reply{status: http.StatusOK, body: g.topologyLocked()}, true
	case opCreateInstance:
		defer g.mu.Unlock()
		return g.createLocked(req.(*createRequest), instance), true
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
	return g.longPoll(ctx, req.(*activateRequest))
}

func noContentOr(r *refusal, intent, instance string) reply {
	if r != nil {
		return reply{problem: rejection(intent, r.code, r.reason, instance)}
	}
	return reply{status: http.StatusNoContent}
}

// longPoll activates jobs, waiting for some until the request's timeout, as
// the gateway parks activation requests instead of answering them empty.
func (g *Gateway) longPoll(ctx context.Context, a *activateRequest) (reply, bool) {
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
	for {
		g.mu.Lock()
		now := g.now()
		jobs, next := g.eng.activate(a.Type, a.max, time.Duration(a.timeout)*time.Millisecond, a.Worker, a.FetchVariable, now)
		changed := g.eng.waitChan(a.Type)
		g.mu.Unlock()
		if len(jobs) > 0 || a.requestTimeout < 0 || !now.Before(deadline) {
			if jobs == nil {
				jobs = []activation{}
			}
			return reply{status: http.StatusOK, body: map[string]any{"jobs": jobs}}, true
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
			return reply{status: http.StatusOK, body: map[string]any{"jobs": []activation{}}}, true
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
				fmt.Sprintf("Request method '%s' is not supported", r.Method), r.URL.Path),
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
// with a Retry-After when retryAfter is set.
func (g *Gateway) write(w http.ResponseWriter, rep reply, retryAfter time.Duration) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	status, body := rep.status, rep.body
	if rep.problem != nil {
		status, body = rep.problem.Status, rep.problem
		h.Set("Content-Type", "application/problem+json")
		if retryAfter > 0 {
			h.Set("Retry-After", strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10))
		}
	} else if body != nil {
		h.Set("Content-Type", "application/json")
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

// The request bodies, parsed and checked.

type activateRequest struct {
	Type              string   `json:"type"`
	Worker            string   `json:"worker"`
	Timeout           *int64   `json:"timeout"`
	MaxJobsToActivate *int     `json:"maxJobsToActivate"`
	FetchVariable     []string `json:"fetchVariable"`
	RequestTimeout    int64    `json:"requestTimeout"`
	TenantIDs         []string `json:"tenantIds"`

	timeout, requestTimeout int64
	max                     int
}

type createRequest struct {
	ProcessDefinitionID      string                     `json:"processDefinitionId"`
	ProcessDefinitionKey     flexKey                    `json:"processDefinitionKey"`
	ProcessDefinitionVersion *int                       `json:"processDefinitionVersion"`
	Variables                map[string]json.RawMessage `json:"variables"`
	TenantID                 string                     `json:"tenantId"`
}

// jobCommand is a completion, failure or thrown error.
type jobCommand struct {
	key     int64
	vars    map[string]json.RawMessage
	retries int
	backoff time.Duration
}

// flexKey is a key sent as a JSON string, as the 8.8 API does, or as a
// number, as earlier releases did.
type flexKey struct {
	set bool
	raw string
}

func (k *flexKey) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(data, &n); err != nil {
			return err
		}
		s = n.String()
	}
	k.set, k.raw = true, s
	return nil
}

func jobTypeOf(req any) string {
	if a, ok := req.(*activateRequest); ok {
		return a.Type
	}
	return ""
}

// decode parses a JSON object body strictly enough to catch what Spring
// would refuse: not JSON, or members of the wrong type.
func decode(body []byte, v any, required bool) (present bool, bad *verdict.Problem) {
	if len(bytes.TrimSpace(body)) == 0 {
		if required {
			return false, problem(http.StatusBadRequest, "Bad Request", "Required request body is missing", "")
		}
		return false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return true, unreadable("")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return true, unreadable("")
	}
	return true, nil
}

// parse checks a request's body and path as the gateway does before it
// sends anything to a broker.
func parse(o op, path, contextPath string, body []byte) (any, *verdict.Problem) {
	switch o {
	case opTopology:
		return nil, nil
	case opActivate:
		a := new(activateRequest)
		if _, bad := decode(body, a, true); bad != nil {
			return nil, bad
		}
		switch {
		case a.Type == "":
			return nil, invalidArgument("No type provided", "")
		case a.Timeout == nil:
			return nil, invalidArgument("No timeout provided", "")
		case *a.Timeout < 1:
			return nil, invalidArgument(fmt.Sprintf("The value for timeout is '%d' but must be greater than 0", *a.Timeout), "")
		case a.MaxJobsToActivate == nil:
			return nil, invalidArgument("No maxJobsToActivate provided", "")
		case *a.MaxJobsToActivate < 1:
			return nil, invalidArgument(fmt.Sprintf("The value for maxJobsToActivate is '%d' but must be greater than 0", *a.MaxJobsToActivate), "")
		}
		a.timeout, a.max, a.requestTimeout = *a.Timeout, *a.MaxJobsToActivate, a.RequestTimeout
		return a, nil
	case opCreateInstance:
		c := new(createRequest)
		if _, bad := decode(body, c, true); bad != nil {
			return nil, bad
		}
		switch {
		case c.ProcessDefinitionID == "" && !c.ProcessDefinitionKey.set:
			return nil, invalidArgument("At least one of [processDefinitionId, processDefinitionKey] is required", "")
		case c.ProcessDefinitionID != "" && c.ProcessDefinitionKey.set:
			return nil, invalidArgument("Only one of [processDefinitionId, processDefinitionKey] is allowed", "")
		case c.ProcessDefinitionKey.set:
			if _, err := strconv.ParseInt(c.ProcessDefinitionKey.raw, 10, 64); err != nil {
				return nil, invalidArgument(fmt.Sprintf("The provided processDefinitionKey '%s' is not a valid key", c.ProcessDefinitionKey.raw), "")
			}
		}
		return c, nil
	}

	// The job commands: the key is in the path.
	rest := strings.TrimPrefix(strings.TrimPrefix(path, contextPath), "/v2/jobs/")
	raw, _, _ := strings.Cut(rest, "/")
	key, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, invalidArgument(fmt.Sprintf("The provided jobKey '%s' is not a valid key", raw), "")
	}
	c := &jobCommand{key: key}
	switch o {
	case opComplete:
		var b struct {
			Variables map[string]json.RawMessage `json:"variables"`
		}
		if _, bad := decode(body, &b, false); bad != nil {
			return nil, bad
		}
		c.vars = b.Variables
	case opFail:
		var b struct {
			Retries      int                        `json:"retries"`
			ErrorMessage string                     `json:"errorMessage"`
			RetryBackOff int64                      `json:"retryBackOff"`
			Variables    map[string]json.RawMessage `json:"variables"`
		}
		if _, bad := decode(body, &b, false); bad != nil {
			return nil, bad
		}
		if b.RetryBackOff < 0 {
			return nil, invalidArgument(fmt.Sprintf("The value for retryBackOff is '%d' but must be 0 or greater", b.RetryBackOff), "")
		}
		c.retries, c.backoff, c.vars = b.Retries, time.Duration(b.RetryBackOff)*time.Millisecond, b.Variables
	case opThrowError:
		var b struct {
			ErrorCode    string                     `json:"errorCode"`
			ErrorMessage string                     `json:"errorMessage"`
			Variables    map[string]json.RawMessage `json:"variables"`
		}
		if _, bad := decode(body, &b, true); bad != nil {
			return nil, bad
		}
		if b.ErrorCode == "" {
			return nil, invalidArgument("No errorCode provided", "")
		}
		c.vars = b.Variables
	}
	return c, nil
}

// createLocked starts a process instance.
func (g *Gateway) createLocked(c *createRequest, instance string) reply {
	var d *definition
	if c.ProcessDefinitionKey.set {
		key, _ := strconv.ParseInt(c.ProcessDefinitionKey.raw, 10, 64)
		if d = g.eng.defsByKey[key]; d == nil {
			return reply{problem: rejection("CREATE", "NOT_FOUND",
				fmt.Sprintf("Expected to find process definition with key '%d', but none found", key), instance)}
		}
	} else {
		d = g.eng.definition(c.ProcessDefinitionID)
	}
	if v := c.ProcessDefinitionVersion; v != nil && *v != -1 && *v != d.version {
		return reply{problem: rejection("CREATE", "NOT_FOUND",
			fmt.Sprintf("Expected to find process definition with process ID '%s' and version '%d', but none found", d.id, *v), instance)}
	}
	tenant := c.TenantID
	if tenant == "" {
		tenant = g.cfg.tenantID
	}
	inst, _ := g.eng.create(d, tenant, c.Variables)
	return reply{status: http.StatusOK, body: map[string]any{
		"processDefinitionId":      d.id,
		"processDefinitionKey":     keyString(d.key),
		"processDefinitionVersion": d.version,
		"processInstanceKey":       keyString(inst.key),
		"tenantId":                 tenant,
		"variables":                map[string]any{},
		"tags":                     []string{},
	}}
}

// topologyLocked describes the emulated cluster: one broker leading one
// partition.
func (g *Gateway) topologyLocked() map[string]any {
	health := "healthy"
	if g.outOfDisk {
		health = "unhealthy"
	}
	host, port := "127.0.0.1", 26501
	v := g.cfg.version.gatewayVersion()
	return map[string]any{
		"brokers": []map[string]any{{
			"nodeId": 0,
			"host":   host,
			"port":   port,
			"partitions": []map[string]any{{
				"partitionId": 1,
				"role":        "leader",
				"health":      health,
			}},
			"version": v,
		}},
		"clusterSize":           1,
		"partitionsCount":       1,
		"replicationFactor":     1,
		"gatewayVersion":        v,
		"lastCompletedChangeId": "-1",
	}
}
