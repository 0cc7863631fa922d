package slot

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Path is the one route the server serves.
const Path = "/v2/process-instances"

// Bucket is the step of the server's time series.
const Bucket = 100 * time.Millisecond

// maxBuckets bounds each time series: an hour of 100ms buckets. Answers
// after it still count in the totals.
const maxBuckets = 36000

// The answers, as Camunda 8.8.3's gateway words them (the UNAVAILABLE
// detail is the bench's own: only the title and status matter to a
// client).
var (
	exhaustedBody   = []byte(`{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,"detail":"Expected to handle request, but all retries have been exhausted","instance":"/v2/process-instances"}`)
	unavailableBody = []byte(`{"type":"about:blank","title":"UNAVAILABLE","status":503,"detail":"The cluster is unavailable: an outage scripted by the bench","instance":"/v2/process-instances"}`)
	notFoundBody    = []byte(`{"type":"about:blank","title":"NOT_FOUND","status":404,"detail":"The bench serves POST /v2/process-instances only"}`)
)

// Outage modes.
const (
	outageOff int32 = iota
	outageUnavailable
	outageRefuse
)

// Settings are the server's start settings, to which /reset returns.
type Settings struct {
	// Slots is the number of requests served at once. 0 means 32.
	Slots int
	// Service is how long each accepted request holds its slot. 0 means
	// 10ms.
	Service time.Duration
}

func (s Settings) withDefaults() Settings {
	if s.Slots == 0 {
		s.Slots = 32
	}
	if s.Service == 0 {
		s.Service = 10 * time.Millisecond
	}
	return s
}

// Server is the slot server. Build it with New, serve its API with Listen
// and its control endpoint with Control.
type Server struct {
	start Settings
	// hold keeps a slot for the service time; tests replace it to hold
	// slots for as long as they like.
	hold func(d time.Duration)

	limit      atomic.Int64
	inUse      atomic.Int64
	outage     atomic.Int32
	share      atomic.Uint64 // math.Float64bits of the refused share
	refuseNext atomic.Int64
	seq        atomic.Int64

	rec atomic.Pointer[record]

	// mu guards the API listener and its connections, which an outage in
	// refuse mode closes and its end opens again.
	mu    sync.Mutex
	addr  string
	ln    net.Listener
	conns map[net.Conn]struct{}
	api   *http.Server
}

// New returns a server with the given start settings; its counters start
// at the moment of the call.
func New(s Settings) *Server {
	srv := &Server{start: s.withDefaults(), hold: time.Sleep, conns: map[net.Conn]struct{}{}}
	srv.limit.Store(int64(srv.start.Slots))
	srv.rec.Store(newRecord(time.Now()))
	srv.api = &http.Server{
		Handler:           http.HandlerFunc(srv.serveAPI),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         srv.connState,
	}
	return srv
}

// Listen serves the API on addr, which must be a loopback address, and
// returns the address it listens on (addr with its port chosen when it
// was 0).
func (s *Server) Listen(addr string) (string, error) {
	if err := loopback(addr); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("slot: %w", err)
	}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.ln = ln
	s.mu.Unlock()
	go func() { _ = s.api.Serve(ln) }()
	return ln.Addr().String(), nil
}

// Close stops the API listener and closes every connection.
func (s *Server) Close() error { return s.api.Close() }

// Handler is the API handler, for tests that serve it themselves.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveAPI) }

// loopback reports an error unless addr's host is a loopback IP.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("slot: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("slot: address %q is not a loopback IP", addr)
	}
	return nil
}

func (s *Server) connState(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch state {
	case http.StateNew:
		if s.outage.Load() == outageRefuse {
			// Accepted just before the listener closed: it goes too.
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// serveAPI answers one request: at once with a refusal when an outage,
// the script, the random share or a lack of slots says so; else after the
// service time with a 200.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path || r.Method != http.MethodPost {
		write(w, http.StatusNotFound, "application/problem+json", notFoundBody)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	rec := s.rec.Load()
	if s.interrupted(w, rec) {
		return
	}
	if s.takeScripted() {
		rec.refuse(time.Now(), &rec.refusedScripted)
		write(w, http.StatusServiceUnavailable, "application/problem+json", exhaustedBody)
		return
	}
	if p := math.Float64frombits(s.share.Load()); p > 0 && rand.Float64() < p {
		rec.refuse(time.Now(), &rec.refusedRandom)
		write(w, http.StatusServiceUnavailable, "application/problem+json", exhaustedBody)
		return
	}
	if !s.acquire() {
		rec.refuse(time.Now(), &rec.refusedCapacity)
		write(w, http.StatusServiceUnavailable, "application/problem+json", exhaustedBody)
		return
	}
	held := time.Now()
	s.hold(s.start.Service)
	rec.held(time.Since(held))
	// The slot is free before the answer leaves, so that a client keeping
	// exactly as many requests in flight as there are slots is never
	// refused.
	s.inUse.Add(-1)
	if s.interrupted(w, rec) {
		return
	}
	rec.accept(time.Now())
	key := 2251799813685249 + s.seq.Add(1)
	body := `{"processDefinitionKey":"2251799813685249","processDefinitionId":"order","processDefinitionVersion":1,"processInstanceKey":"` +
		strconv.FormatInt(key, 10) + `","tenantId":"<default>","variables":{}}`
	write(w, http.StatusOK, "application/json", []byte(body))
}

// interrupted answers the request as an outage would, if one is on, and
// reports whether it did.
func (s *Server) interrupted(w http.ResponseWriter, rec *record) bool {
	switch s.outage.Load() {
	case outageUnavailable:
		rec.unavail(time.Now())
		write(w, http.StatusServiceUnavailable, "application/problem+json", unavailableBody)
		return true
	case outageRefuse:
		rec.unavail(time.Now())
		// Drop the connection without an answer, as a server that went
		// away does.
		panic(http.ErrAbortHandler)
	}
	return false
}

func write(w http.ResponseWriter, code int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func (s *Server) acquire() bool {
	for {
		n := s.inUse.Load()
		if n >= s.limit.Load() {
			return false
		}
		if s.inUse.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (s *Server) takeScripted() bool {
	for {
		k := s.refuseNext.Load()
		if k <= 0 {
			return false
		}
		if s.refuseNext.CompareAndSwap(k, k-1) {
			return true
		}
	}
}

// Reset returns the server to its start settings and restarts its
// counters and series from t0.
func (s *Server) Reset(t0 time.Time) error {
	err := s.SetOutage("off")
	s.limit.Store(int64(s.start.Slots))
	s.share.Store(0)
	s.refuseNext.Store(0)
	rec := newRecord(t0)
	rec.event("reset")
	s.rec.Store(rec)
	return err
}

// SetSlots serves with n slots from now on; n = 0 means the start
// setting. Requests already holding a slot keep it.
func (s *Server) SetSlots(n int) error {
	if n < 0 {
		return fmt.Errorf("slot: %d slots", n)
	}
	if n == 0 {
		n = s.start.Slots
	}
	s.limit.Store(int64(n))
	s.rec.Load().event("slots " + strconv.Itoa(n))
	return nil
}

// SetShare refuses the share p of requests at random from now on.
func (s *Server) SetShare(p float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("slot: share %v not in [0, 1]", p)
	}
	s.share.Store(math.Float64bits(p))
	s.rec.Load().event("share " + strconv.FormatFloat(p, 'g', -1, 64))
	return nil
}

// RefuseNext refuses the next k requests, then serves as before.
func (s *Server) RefuseNext(k int) error {
	if k < 0 {
		return fmt.Errorf("slot: refuse-next %d", k)
	}
	s.refuseNext.Store(int64(k))
	s.rec.Load().event("refuse-next " + strconv.Itoa(k))
	return nil
}

// SetOutage starts an outage ("unavailable": every request answered at
// once with 503 UNAVAILABLE; "refuse": no listener, every connection
// closed, so that dials are refused) or ends it ("off").
func (s *Server) SetOutage(mode string) error {
	var m int32
	switch mode {
	case "off":
		m = outageOff
	case "unavailable":
		m = outageUnavailable
	case "refuse":
		m = outageRefuse
	default:
		return fmt.Errorf("slot: outage mode %q: want off, unavailable or refuse", mode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.outage.Swap(m)
	var err error
	switch {
	case m == outageRefuse && s.ln != nil:
		_ = s.ln.Close()
		s.ln = nil
		for c := range s.conns {
			_ = c.Close()
			delete(s.conns, c)
		}
	case m != outageRefuse && s.ln == nil && s.addr != "":
		// Listen on the same port again; Go sets SO_REUSEADDR, so the
		// connections just closed do not hold it.
		ln, lerr := net.Listen("tcp", s.addr)
		if lerr != nil {
			err = fmt.Errorf("slot: listen again: %w", lerr)
			break
		}
		s.ln = ln
		go func() { _ = s.api.Serve(ln) }()
	}
	if prev != m || mode != "off" {
		s.rec.Load().event("outage " + mode)
	}
	return err
}

// Counters is what /counters reports.
type Counters struct {
	// T0 is the instant the series start from, in Unix nanoseconds.
	T0 int64 `json:"t0_unix_ns"`
	// BucketMS is the step of the series.
	BucketMS int `json:"bucket_ms"`
	// Totals since the last reset, by answer.
	Accepted        int64 `json:"accepted"`
	RefusedCapacity int64 `json:"refused_capacity"`
	RefusedRandom   int64 `json:"refused_random"`
	RefusedScripted int64 `json:"refused_scripted"`
	Unavailable     int64 `json:"unavailable"`
	// Series count the answers of each kind per bucket from T0 up to the
	// moment of the report.
	Series Series `json:"series"`
	// Events are the changes applied since the last reset.
	Events []Event `json:"events"`
	// Slots and InUse are the current limit and the slots held.
	Slots int `json:"slots"`
	InUse int `json:"in_use"`
	// MeanHoldMS is how long a slot was really held per accepted request,
	// on average: the service time plus the timer's lateness on this
	// machine. Slots over it is what the server could serve if no slot
	// ever sat idle between requests.
	MeanHoldMS float64 `json:"mean_hold_ms"`
}

// Series are per-bucket counts of answers.
type Series struct {
	Accepted    []int64 `json:"accepted"`
	Refused     []int64 `json:"refused"`
	Unavailable []int64 `json:"unavailable"`
}

// Event is a change of the server's settings and when it took effect.
type Event struct {
	// AtMS is the instant of the change, in milliseconds from T0.
	AtMS float64 `json:"at_ms"`
	// What is the change, as "outage refuse", "slots 16", "share 0.25".
	What string `json:"what"`
}

// Counters reports the counters and series since the last reset.
func (s *Server) Counters() Counters {
	rec := s.rec.Load()
	n := min(int(time.Since(rec.t0)/Bucket)+1, maxBuckets)
	n = max(n, 0)
	c := Counters{
		T0:              rec.t0.UnixNano(),
		BucketMS:        int(Bucket / time.Millisecond),
		Accepted:        rec.accepted.Load(),
		RefusedCapacity: rec.refusedCapacity.Load(),
		RefusedRandom:   rec.refusedRandom.Load(),
		RefusedScripted: rec.refusedScripted.Load(),
		Unavailable:     rec.unavailable.Load(),
		Series: Series{
			Accepted:    snapshot(rec.seriesAccepted[:n]),
			Refused:     snapshot(rec.seriesRefused[:n]),
			Unavailable: snapshot(rec.seriesUnavailable[:n]),
		},
		Slots: int(s.limit.Load()),
		InUse: int(s.inUse.Load()),
	}
	if n := rec.holds.Load(); n > 0 {
		c.MeanHoldMS = float64(rec.holdNS.Load()) / float64(n) / float64(time.Millisecond)
	}
	rec.mu.Lock()
	c.Events = append([]Event{}, rec.events...)
	rec.mu.Unlock()
	return c
}

func snapshot(a []atomic.Int64) []int64 {
	out := make([]int64, len(a))
	for i := range a {
		out[i] = a[i].Load()
	}
	return out
}

// record holds the counters since one reset.
type record struct {
	t0 time.Time

	accepted, refusedCapacity, refusedRandom, refusedScripted, unavailable atomic.Int64

	holds, holdNS atomic.Int64

	seriesAccepted, seriesRefused, seriesUnavailable []atomic.Int64

	mu     sync.Mutex
	events []Event
}

func newRecord(t0 time.Time) *record {
	return &record{
		t0:                t0,
		seriesAccepted:    make([]atomic.Int64, maxBuckets),
		seriesRefused:     make([]atomic.Int64, maxBuckets),
		seriesUnavailable: make([]atomic.Int64, maxBuckets),
	}
}

func (r *record) bucket(now time.Time) int {
	d := now.Sub(r.t0)
	if d < 0 {
		return -1
	}
	if i := int(d / Bucket); i < maxBuckets {
		return i
	}
	return -1
}

func (r *record) held(d time.Duration) {
	r.holds.Add(1)
	r.holdNS.Add(int64(d))
}

func (r *record) accept(now time.Time) {
	r.accepted.Add(1)
	if i := r.bucket(now); i >= 0 {
		r.seriesAccepted[i].Add(1)
	}
}

func (r *record) refuse(now time.Time, total *atomic.Int64) {
	total.Add(1)
	if i := r.bucket(now); i >= 0 {
		r.seriesRefused[i].Add(1)
	}
}

func (r *record) unavail(now time.Time) {
	r.unavailable.Add(1)
	if i := r.bucket(now); i >= 0 {
		r.seriesUnavailable[i].Add(1)
	}
}

func (r *record) event(what string) {
	at := float64(time.Since(r.t0)) / float64(time.Millisecond)
	r.mu.Lock()
	r.events = append(r.events, Event{AtMS: at, What: what})
	r.mu.Unlock()
}

// Control is the control endpoint's handler; quit is called when a
// client asks the server to stop.
func (s *Server) Control(quit func()) http.Handler {
	mux := http.NewServeMux()
	do := func(f func(r *http.Request) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := f(r); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	}
	mux.HandleFunc("POST /reset", do(func(r *http.Request) error {
		t0 := time.Now()
		if v := r.URL.Query().Get("t0"); v != "" {
			ns, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("slot: t0 %q: %w", v, err)
			}
			t0 = time.Unix(0, ns)
		}
		return s.Reset(t0)
	}))
	mux.HandleFunc("POST /slots", do(func(r *http.Request) error {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil {
			return fmt.Errorf("slot: n: %w", err)
		}
		return s.SetSlots(n)
	}))
	mux.HandleFunc("POST /outage", do(func(r *http.Request) error {
		return s.SetOutage(r.URL.Query().Get("mode"))
	}))
	mux.HandleFunc("POST /share", do(func(r *http.Request) error {
		p, err := strconv.ParseFloat(r.URL.Query().Get("p"), 64)
		if err != nil {
			return fmt.Errorf("slot: p: %w", err)
		}
		return s.SetShare(p)
	}))
	mux.HandleFunc("POST /refuse-next", do(func(r *http.Request) error {
		k, err := strconv.Atoi(r.URL.Query().Get("k"))
		if err != nil {
			return fmt.Errorf("slot: k: %w", err)
		}
		return s.RefuseNext(k)
	}))
	mux.HandleFunc("GET /counters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.Counters())
	})
	mux.HandleFunc("POST /quit", do(func(*http.Request) error {
		quit()
		return nil
	}))
	return mux
}

// listen opens a loopback listener.
func listen(addr string) (net.Listener, error) {
	if err := loopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("slot: %w", err)
	}
	return ln, nil
}
