package transport

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebb-go/ebb/retry"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const exhaustedBody = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,"detail":"Expected to handle request, but all retries have been exhausted","instance":"/v2/process-instances"}`

// fastRetry keeps real-time tests quick; the delays themselves are tested
// under synctest in package retry.
var fastRetry = WithRetry(retry.Policy{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond})

// server is an httptest server that answers with backpressure the first
// reject requests, hashes every body it receives and counts new connections.
type server struct {
	*httptest.Server
	reject   atomic.Int64
	newConns atomic.Int64
	mu       sync.Mutex
	hashes   [][32]byte
	lengths  []int
}

func newServer(t *testing.T, reject int, then http.HandlerFunc) *server {
	s := &server{}
	s.reject.Store(int64(reject))
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.hashes = append(s.hashes, sha256.Sum256(body))
		s.lengths = append(s.lengths, len(body))
		s.mu.Unlock()
		if s.reject.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, exhaustedBody)
			return
		}
		then(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.newConns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func ok(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"processInstanceKey":"2251799813685249"}`)
}

// client returns an http.Client over a transport the test owns and closes.
func client(t *testing.T, opts ...Option) *http.Client {
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	return &http.Client{Transport: New(base, opts...)}
}

func TestReplayedPOSTIsByteIdentical(t *testing.T) {
	s := newServer(t, 3, ok)
	payload := bytes.Repeat([]byte(`{"processDefinitionId":"order","variables":{"n":1}}`), 2000) // ~100 KB
	resp, err := client(t, fastRetry).Post(s.URL+"/v2/process-instances", "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	want := sha256.Sum256(payload)
	if len(s.hashes) != 4 {
		t.Fatalf("server saw %d attempts, want 4", len(s.hashes))
	}
	for i, h := range s.hashes {
		if h != want {
			t.Errorf("attempt %d: body of %d bytes differs from the %d sent", i+1, s.lengths[i], len(payload))
		}
	}
	// The connection survived every retry: discarded answers were drained.
	if n := s.newConns.Load(); n != 1 {
		t.Errorf("new connections = %d, want 1", n)
	}
}

func TestNonReplayableBodyIsSentOnce(t *testing.T) {
	s := newServer(t, 1, ok)
	req, _ := http.NewRequest("POST", s.URL+"/v2/process-instances", io.MultiReader(strings.NewReader(`{"a":1}`)))
	req.GetBody = nil
	resp, err := client(t, fastRetry).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || string(body) != exhaustedBody || len(s.hashes) != 1 {
		t.Fatalf("want the one 503 intact: %d %q after %d attempts", resp.StatusCode, body, len(s.hashes))
	}
}

func TestLargeErrorBodyArrivesIntact(t *testing.T) {
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = "0123456789abcdef"[i%16]
	}
	errBody := append([]byte(`{"title":"RESOURCE_EXHAUSTED","status":503,"detail":"`), big...)
	errBody = append(errBody, `"}`...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(503)
		w.Write(errBody)
	}))
	defer srv.Close()
	resp, err := client(t, WithRetry(retry.Policy{MaxAttempts: 2, InitialInterval: time.Millisecond})).Get(srv.URL + "/v2/topology")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 503 || !bytes.Equal(got, errBody) {
		t.Fatalf("got %d bytes (err %v, status %d), want %d identical", len(got), err, resp.StatusCode, len(errBody))
	}
}

func TestCallersRequestUnchanged(t *testing.T) {
	s := newServer(t, 2, ok)
	req, _ := http.NewRequest("POST", s.URL+"/v2/process-instances", strings.NewReader(`{"x":1}`))
	req.Header.Set("Authorization", "Bearer t")
	before := *req
	hdr := req.Header.Clone()
	resp, err := client(t, fastRetry).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.Body != before.Body || req.URL != before.URL || req.Method != before.Method || req.ContentLength != before.ContentLength ||
		req.Header.Get("Authorization") != hdr.Get("Authorization") || len(req.Header) != len(hdr) {
		t.Fatal("the caller's request changed")
	}
}

func TestConnectionRefusedIsRetriedAndReported(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = client(t, WithRetry(retry.Policy{MaxAttempts: 3, InitialInterval: time.Millisecond})).Post("http://"+addr+"/v2/process-instances", "application/json", strings.NewReader("{}"))
	if err == nil || !strings.Contains(err.Error(), "3 attempts") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v, want 3 attempts and the refusal", err)
	}
}

// TestRetriedUploadCostsNoExtraMemory: replaying a large body goes through
// req.GetBody, never through a copy, so four attempts of a 16 MiB upload
// allocate about what one does.
func TestRetriedUploadCostsNoExtraMemory(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 16<<20)
	send := func(attempts int) uint64 {
		var n int
		base := RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			io.Copy(io.Discard, req.Body)
			req.Body.Close()
			n++
			code, body := 200, "{}"
			if n < attempts {
				code, body = 503, exhaustedBody
			}
			return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"application/problem+json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
		})
		// The limiter is off: a lone client refused three times in a row
		// would wait at its floor, which is not what this test measures.
		rt := New(base, limiterOff, WithRetry(retry.Policy{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond}))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		req, _ := http.NewRequest("POST", "http://gw.test/v2/process-instances", bytes.NewReader(payload))
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 || n != attempts {
			t.Fatalf("%d attempts: %v %v after %d", attempts, resp, err, n)
		}
		resp.Body.Close()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	once, four := send(1), send(4)
	t.Logf("16 MiB upload: %d bytes allocated sent once, %d bytes over four attempts", once, four)
	if four > once+256<<10 {
		t.Fatalf("four attempts allocated %d bytes, one %d: a retry must not copy the body", four, once)
	}
}
