package slot

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const exhausted = `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503,"detail":"Expected to handle request, but all retries have been exhausted","instance":"/v2/process-instances"}`

// gate holds every accepted request until the test lets it go, and tells
// the test when a request holds its slot.
type gate struct {
	held    chan struct{}
	release chan struct{}
}

func newGate(s *Server) *gate {
	g := &gate{held: make(chan struct{}, 100), release: make(chan struct{})}
	s.hold = func(time.Duration) {
		g.held <- struct{}{}
		<-g.release
	}
	return g
}

// answer is what a client saw.
type answer struct {
	code        int
	contentType string
	body        string
}

func post(t *testing.T, c *http.Client, url string) answer {
	t.Helper()
	resp, err := c.Post(url+Path, "application/json", strings.NewReader(`{"processDefinitionId":"order"}`))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

func instant(s *Server) { s.hold = func(time.Duration) {} }

func TestRefusesBeyondSlotsWithCamundasAnswer(t *testing.T) {
	s := New(Settings{Slots: 2})
	g := newGate(s)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	done := make(chan answer, 2)
	for range 2 {
		go func() { done <- post(t, ts.Client(), ts.URL) }()
	}
	<-g.held
	<-g.held

	got := post(t, ts.Client(), ts.URL)
	want := answer{503, "application/problem+json", exhausted}
	if got != want {
		t.Errorf("third request: got %+v, want %+v", got, want)
	}
	close(g.release)
	for range 2 {
		if a := <-done; a.code != 200 || !strings.Contains(a.body, `"processInstanceKey"`) {
			t.Errorf("held request: got %+v, want a 200 with a process instance", a)
		}
	}
	c := s.Counters()
	if c.Accepted != 2 || c.RefusedCapacity != 1 {
		t.Errorf("counters: accepted %d, refused %d; want 2 and 1", c.Accepted, c.RefusedCapacity)
	}
}

func TestHalvedSlotsRefuseWhatTheyNoLongerHold(t *testing.T) {
	s := New(Settings{Slots: 2})
	g := newGate(s)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	if err := s.SetSlots(1); err != nil {
		t.Fatal(err)
	}
	done := make(chan answer, 1)
	go func() { done <- post(t, ts.Client(), ts.URL) }()
	<-g.held
	if a := post(t, ts.Client(), ts.URL); a.code != 503 {
		t.Errorf("second request with one slot: %d, want 503", a.code)
	}
	close(g.release)
	<-done
	if err := s.SetSlots(0); err != nil {
		t.Fatal(err)
	}
	if c := s.Counters(); c.Slots != 2 {
		t.Errorf("slots after SetSlots(0): %d, want the start setting 2", c.Slots)
	}
}

func TestRefuseNextThenServe(t *testing.T) {
	s := New(Settings{})
	instant(s)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	if err := s.RefuseNext(3); err != nil {
		t.Fatal(err)
	}
	var codes []int
	for range 5 {
		codes = append(codes, post(t, ts.Client(), ts.URL).code)
	}
	if want := []int{503, 503, 503, 200, 200}; !slices.Equal(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	if c := s.Counters(); c.RefusedScripted != 3 || c.Accepted != 2 {
		t.Errorf("counters %+v: want 3 scripted refusals, 2 accepted", c)
	}
}

func TestShareRefusesWhateverTheLoad(t *testing.T) {
	s := New(Settings{})
	instant(s)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for _, tc := range []struct {
		give float64
		want int
	}{{1, 503}, {0, 200}} {
		if err := s.SetShare(tc.give); err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if a := post(t, ts.Client(), ts.URL); a.code != tc.want || (tc.want == 503 && a.body != exhausted) {
				t.Fatalf("share %v: got %+v, want %d", tc.give, a, tc.want)
			}
		}
	}
	if err := s.SetShare(1.5); err == nil {
		t.Error("share 1.5: no error")
	}
}

func TestOutageUnavailable(t *testing.T) {
	s := New(Settings{})
	instant(s)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	if err := s.SetOutage("unavailable"); err != nil {
		t.Fatal(err)
	}
	a := post(t, ts.Client(), ts.URL)
	if a.code != 503 || a.contentType != "application/problem+json" || !strings.Contains(a.body, `"title":"UNAVAILABLE"`) {
		t.Errorf("during the outage: %+v, want 503 UNAVAILABLE", a)
	}
	if err := s.SetOutage("off"); err != nil {
		t.Fatal(err)
	}
	if a := post(t, ts.Client(), ts.URL); a.code != 200 {
		t.Errorf("after the outage: %d, want 200", a.code)
	}
	if err := s.SetOutage("sideways"); err == nil {
		t.Error("unknown mode: no error")
	}
}

func TestOutageRefusesConnectionsThenListensAgain(t *testing.T) {
	s := New(Settings{})
	instant(s)
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	url := "http://" + addr
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	if a := post(t, c, url); a.code != 200 {
		t.Fatalf("before: %d", a.code)
	}
	if err := s.SetOutage("refuse"); err != nil {
		t.Fatal(err)
	}
	// The connection the client kept was closed: it gets no answer.
	if resp, err := c.Post(url+Path, "application/json", strings.NewReader("{}")); err == nil {
		resp.Body.Close()
		t.Errorf("during the outage, on the old connection: %d, want an error", resp.StatusCode)
	}
	// A new connection is refused.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, err = fresh.Post(url+Path, "application/json", strings.NewReader("{}"))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("during the outage, on a new connection: %v, want connection refused", err)
	}
	if err := s.SetOutage("off"); err != nil {
		t.Fatal(err)
	}
	if a := post(t, c, url); a.code != 200 {
		t.Errorf("after: %d, want 200", a.code)
	}
	var what []string
	for _, e := range s.Counters().Events {
		what = append(what, e.What)
	}
	if got := strings.Join(what, ","); got != "outage refuse,outage off" {
		t.Errorf("events %q", got)
	}
}

func TestListenOnlyOnLoopback(t *testing.T) {
	if _, err := New(Settings{}).Listen("0.0.0.0:0"); err == nil {
		t.Error("Listen on 0.0.0.0: no error")
	}
}

func TestSeriesCountAnswersFromT0(t *testing.T) {
	s := New(Settings{Slots: 1})
	g := newGate(s)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	if err := s.Reset(time.Now().Add(-250 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	done := make(chan answer, 1)
	go func() { done <- post(t, ts.Client(), ts.URL) }()
	<-g.held
	post(t, ts.Client(), ts.URL) // refused: the one slot is held
	close(g.release)
	<-done
	c := s.Counters()
	sum := func(a []int64) (n int64) {
		for _, v := range a {
			n += v
		}
		return n
	}
	if len(c.Series.Accepted) < 3 || sum(c.Series.Accepted) != 1 || sum(c.Series.Refused) != 1 {
		t.Errorf("series %+v: want one accepted and one refused from the third bucket on", c.Series)
	}
	for i := range 2 {
		if c.Series.Accepted[i]+c.Series.Refused[i] != 0 {
			t.Errorf("bucket %d holds answers given after it", i)
		}
	}
	if len(c.Events) != 1 || c.Events[0].What != "reset" || c.Events[0].AtMS < 250 {
		t.Errorf("events %+v: want the reset, 250ms or more after t0", c.Events)
	}
}

func TestControlEndpoint(t *testing.T) {
	s := New(Settings{})
	instant(s)
	quit := make(chan struct{})
	ctl := httptest.NewServer(s.Control(func() { close(quit) }))
	defer ctl.Close()
	for _, tc := range []struct {
		give string
		want int
	}{
		{"/slots?n=16", 204},
		{"/slots?n=x", 400},
		{"/share?p=0.25", 204},
		{"/refuse-next?k=3", 204},
		{"/outage?mode=unavailable", 204},
		{"/outage?mode=nope", 400},
		{"/reset?t0=1", 204},
		{"/quit", 204},
	} {
		resp, err := ctl.Client().Post(ctl.URL+tc.give, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("POST %s: %d, want %d", tc.give, resp.StatusCode, tc.want)
		}
	}
	select {
	case <-quit:
	default:
		t.Error("/quit did not call quit")
	}
	resp, err := ctl.Client().Get(ctl.URL + "/counters")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c Counters
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	// The reset restored the start settings.
	if c.T0 != 1 || c.Slots != 32 || len(c.Events) != 1 {
		t.Errorf("after reset: %+v", c)
	}
}

func TestMainServesUntilQuit(t *testing.T) {
	outR, outW := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- Main([]string{"-slots", "4", "-service", "1ms"}, strings.NewReader(""), outW, io.Discard)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	var r Ready
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	c := &http.Client{Transport: &http.Transport{}}
	if a := post(t, c, r.API); a.code != 200 {
		t.Errorf("API: %d", a.code)
	}
	resp, err := c.Post(r.Control+"/quit", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.CloseIdleConnections()
	if got := <-code; got != 0 {
		t.Errorf("exit code %d", got)
	}
}

func TestMainRejectsANonLoopbackAddress(t *testing.T) {
	if got := Main([]string{"-control", "0.0.0.0:0"}, strings.NewReader(""), io.Discard, io.Discard); got == 0 {
		t.Error("exit code 0 for a control address off loopback")
	}
}
