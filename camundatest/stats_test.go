package camundatest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebb-go/ebb/camundatest"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestBodyHashes(t *testing.T) {
	g := memGateway(t, camundatest.WithBodyHashes(), camundatest.WithCapacity(exhausted))
	bodies := []string{`{"processDefinitionId":"a"}`, `{"processDefinitionId":"b"}`, `{"processDefinitionId":"a"}`}
	for _, b := range bodies {
		send(t, g, "POST", "/v2/process-instances", b) // the second and third are refused
	}
	send(t, g, "GET", "/v2/topology", "")
	want := []string{sha(bodies[0]), sha(bodies[1]), sha(bodies[2])}
	if got := g.BodyHashes("/v2/process-instances"); !slices.Equal(got, want) {
		t.Errorf("hashes\n got %v\nwant %v", got, want)
	}
	if got := g.BodyHashes("/v2/topology"); !slices.Equal(got, []string{sha("")}) {
		t.Errorf("empty body hashed as %v", got)
	}
	if got := memGateway(t).BodyHashes("/v2/process-instances"); got != nil {
		t.Errorf("hashes kept without WithBodyHashes: %v", got)
	}
}

func TestLargeBody(t *testing.T) {
	// A body beyond MaxBodySize is read and hashed in full, kept only in
	// part, and refused.
	g := memGateway(t, camundatest.WithBodyHashes())
	big := `{"processDefinitionId":"p","variables":{"x":"` + strings.Repeat("x", camundatest.MaxBodySize) + `"}}`
	req, _ := http.NewRequest("POST", "http://gateway.test/v2/process-instances", strings.NewReader(big))
	resp, err := g.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	a := readAnswer(t, resp)
	if p := a.problem(t); a.status != http.StatusRequestEntityTooLarge {
		t.Errorf("got %d %+v", a.status, p)
	}
	if got := g.BodyHashes("/v2/process-instances"); !slices.Equal(got, []string{sha(big)}) {
		t.Error("the hash does not cover the whole body")
	}
}

func TestStats(t *testing.T) {
	g := memGateway(t, camundatest.WithCapacity(exhausted))
	createInstance(t, g, `{"processDefinitionId":"p"}`)
	send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`) // refused
	send(t, g, "GET", "/v2/topology", "")
	s := g.Stats()
	want := map[string]camundatest.RouteStats{
		"/v2/process-instances": {Requests: 2, Accepted: 1, Backpressure: 1},
		"/v2/topology":          {Requests: 1, Accepted: 1},
	}
	if fmt.Sprint(s.Routes) != fmt.Sprint(want) {
		t.Errorf("routes\n got %v\nwant %v", s.Routes, want)
	}
	if tot := s.Total(); tot.Requests != 3 || tot.Accepted != 2 || tot.Rejected() != 1 {
		t.Errorf("total %+v", tot)
	}
	if s.InstancesCreated != 1 || s.JobsCreated != 1 || s.JobsOpen != 1 {
		t.Errorf("jobs %+v", s)
	}
	str := s.String()
	for _, w := range []string{"instances 1", "/v2/process-instances: requests 2, accepted 1, backpressure 1", "/v2/topology: requests 1"} {
		if !strings.Contains(str, w) {
			t.Errorf("String() lacks %q:\n%s", w, str)
		}
	}
	// A snapshot is a copy.
	s.Routes["/v2/topology"] = camundatest.RouteStats{}
	if g.Stats().Routes["/v2/topology"].Requests != 1 {
		t.Error("a snapshot shares its map with the gateway")
	}
}

// TestWorkers drains many jobs with concurrent workers over loopback, under
// load and faults, and checks that the counters add up: each job completed
// once.
func TestWorkers(t *testing.T) {
	const instances, workers = 200, 8
	g := netGateway(t,
		camundatest.WithCapacity(camundatest.Capacity{Slots: 4, ServiceTime: time.Millisecond}),
		camundatest.WithFaults(camundatest.Faults{Unavailable: 0.05, Routes: []string{"/v2/jobs/{jobKey}/completion"}}),
	)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			for {
				a := send(t, g, "POST", "/v2/process-instances", fmt.Sprintf(`{"processDefinitionId":"p","variables":{"i":%d}}`, i))
				if a.status == 200 {
					return
				}
				if a.status != 503 {
					t.Errorf("create: %d %s", a.status, a.body)
					return
				}
			}
		})
	}
	var (
		mu   sync.Mutex
		done = map[string]int{}
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				finished := len(done) == instances
				mu.Unlock()
				if finished {
					return
				}
				a := send(t, g, "POST", "/v2/jobs/activation", `{"type":"p","maxJobsToActivate":5,"timeout":60000,"requestTimeout":50}`)
				if a.status != 200 {
					continue // refused for capacity: try again
				}
				var r struct{ Jobs []activatedJob }
				a.decode(t, &r)
				for _, j := range r.Jobs {
					for {
						c := send(t, g, "POST", "/v2/jobs/"+j.JobKey+"/completion", "")
						if c.status == 204 {
							break
						}
						if c.status != 503 {
							t.Errorf("complete: %d %s", c.status, c.body)
							return
						}
					}
					mu.Lock()
					done[j.JobKey]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	s := g.Stats()
	if len(done) != instances || s.JobsCompleted != instances || s.JobsActivated != instances || s.JobsOpen != 0 {
		t.Errorf("%d jobs done; stats %v", len(done), s)
	}
	for k, n := range done {
		if n != 1 {
			t.Errorf("job %s completed %d times", k, n)
		}
	}
	if s.MaxInFlight > 4 {
		t.Errorf("max in flight %d beyond 4 slots", s.MaxInFlight)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		give camundatest.Option
		want string
	}{
		{camundatest.WithVersion(9), "WithVersion"},
		{camundatest.WithContextPath("zeebe"), "WithContextPath"},
		{camundatest.WithContextPath("/zeebe/v2"), "WithContextPath"},
		{camundatest.WithAddr(""), "WithAddr"},
		{camundatest.WithCapacity(camundatest.Capacity{Slots: -1}), "Capacity.Slots"},
		{camundatest.WithCapacity(camundatest.Capacity{Rate: -1}), "Capacity.Rate"},
		{camundatest.WithCapacity(camundatest.Capacity{Burst: -1}), "Capacity.Burst"},
		{camundatest.WithCapacity(camundatest.Capacity{ServiceTime: -1}), "Capacity.ServiceTime"},
		{camundatest.WithFaults(camundatest.Faults{Unavailable: 1.5}), "Faults.Unavailable"},
		{camundatest.WithFaults(camundatest.Faults{Aborted: -0.1}), "Faults.Aborted"},
		{camundatest.WithFaults(camundatest.Faults{Unavailable: 0.6, DeadlineExceeded: 0.6}), "add up"},
		{camundatest.WithFaults(camundatest.Faults{Latency: -1}), "Faults.Latency"},
		{camundatest.WithRetryAfter(-time.Second), "WithRetryAfter"},
		{camundatest.WithProcess("", "t"), "WithProcess"},
		{camundatest.WithJobRetries(0), "WithJobRetries"},
		{camundatest.WithLongPollTimeout(0), "WithLongPollTimeout"},
	} {
		_, err := camundatest.New(tt.give)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want one naming %s", err, tt.want)
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "WithJobRetries") {
			t.Errorf("NewGateway panicked with %v", r)
		}
	}()
	camundatest.NewGateway(camundatest.WithJobRetries(-1))
}

func TestParseVersion(t *testing.T) {
	for _, tt := range []struct {
		give string
		want camundatest.Version
	}{
		{"8.6", camundatest.V86},
		{"8.6.12", camundatest.V86},
		{"8.7.x", camundatest.V87},
		{"8.7.4", camundatest.V87},
		{"8.8.0", camundatest.V880},
		{"v8.8.2", camundatest.V880},
		{"8.8.3", camundatest.V883},
		{"8.8", camundatest.V883},
		{"8.9.1", camundatest.V89},
		{"8.9", camundatest.V89},
		{"8.10", camundatest.V810},
		{"8.10.0-alpha1", 0},
		{"8.11", 0},
		{"9.0", 0},
		{"8.5", 0},
		{"7.20", 0},
		{"8", 0},
		{"eight.8", 0},
		{"8.8.-1", 0},
	} {
		got, err := camundatest.ParseVersion(tt.give)
		if got != tt.want || (err != nil) != (tt.want == 0) {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", tt.give, got, err, tt.want)
		}
	}
}

func TestStartErrors(t *testing.T) {
	g := netGateway(t)
	if err := g.Start(); err == nil {
		t.Error("started twice")
	}
	taken := strings.TrimPrefix(g.URL(), "http://")
	g2, err := camundatest.New(camundatest.WithAddr(taken))
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	if err := g2.Start(); err == nil {
		t.Error("listened on a taken address")
	}
	g3 := memGateway(t)
	g3.Close()
	if err := g3.Start(); err == nil {
		t.Error("started after Close")
	}
}

func TestHandler(t *testing.T) {
	// The handler serves without the gateway's own listener or transport.
	g := memGateway(t)
	req, _ := http.NewRequest("GET", "/v2/topology", nil)
	rec := httptest.NewRecorder()
	g.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"gatewayVersion":"8.8.3"`) {
		t.Errorf("got %d %s", rec.Code, rec.Body.String())
	}
}
