package camundatest_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/camundatest"
	"github.com/ebb-go/ebb/verdict"
)

func TestFaultKinds(t *testing.T) {
	for _, tt := range []struct {
		give   camundatest.Faults
		status int
		title  string
	}{
		{camundatest.Faults{Unavailable: 1}, 503, "UNAVAILABLE"},
		{camundatest.Faults{Aborted: 1}, 502, "ABORTED"},
		{camundatest.Faults{DeadlineExceeded: 1}, 504, "DEADLINE_EXCEEDED"},
	} {
		t.Run(tt.title, func(t *testing.T) {
			g := memGateway(t, camundatest.WithFaults(tt.give), camundatest.WithRetryAfter(3*time.Second))
			req, _ := http.NewRequest("POST", "http://gateway.test/v2/process-instances", nil)
			resp, err := g.Transport().RoundTrip(withBody(req, `{"processDefinitionId":"p"}`))
			if err != nil {
				t.Fatal(err)
			}
			v := verdict.Of(req, resp, nil)
			a := readAnswer(t, resp)
			if p := a.problem(t); a.status != tt.status || p.Title != tt.title || p.Detail == "" || p.Instance != "/v2/process-instances" {
				t.Errorf("got %d %s", a.status, a.body)
			}
			if v.Kind != verdict.Unavailable {
				t.Errorf("verdict %v, want unavailable", v.Kind)
			}
			if ra := a.header.Get("Retry-After"); ra != "3" {
				t.Errorf("Retry-After %q", ra)
			}
			s := g.Stats()
			if r := s.Routes["/v2/process-instances"]; r.Faults != 1 || r.Accepted != 0 || s.InstancesCreated != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// statuses sends n topology requests and lists the answers' statuses.
func statuses(t *testing.T, g *camundatest.Gateway, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = send(t, g, "GET", "/v2/topology", "").status
	}
	return out
}

func TestFaultsSeeded(t *testing.T) {
	f := camundatest.Faults{Unavailable: 0.2, Aborted: 0.1, DeadlineExceeded: 0.1}
	a := statuses(t, memGateway(t, camundatest.WithFaults(f), camundatest.WithSeed(7)), 400)
	b := statuses(t, memGateway(t, camundatest.WithFaults(f), camundatest.WithSeed(7)), 400)
	c := statuses(t, memGateway(t, camundatest.WithFaults(f), camundatest.WithSeed(8)), 400)
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different faults")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave the same faults")
	}
	count := map[int]int{}
	for _, s := range a {
		count[s]++
	}
	// Shares of 400 draws: 80, 40, 40 and 240 expected.
	for _, tt := range []struct{ status, lo, hi int }{{503, 50, 110}, {502, 20, 60}, {504, 20, 60}, {200, 200, 280}} {
		if n := count[tt.status]; n < tt.lo || n > tt.hi {
			t.Errorf("%d answers %d times of 400, want %d to %d", tt.status, n, tt.lo, tt.hi)
		}
	}
}

func TestFaultRoutes(t *testing.T) {
	g := memGateway(t, camundatest.WithFaults(camundatest.Faults{Unavailable: 1, Routes: []string{"/v2/jobs/{jobKey}/completion"}}))
	createInstance(t, g, `{"processDefinitionId":"p"}`)
	key := activateNow(t, g, "p", 1)[0].JobKey
	if a := send(t, g, "POST", "/v2/jobs/"+key+"/completion", ""); a.status != 503 {
		t.Errorf("completion: %d", a.status)
	}
	g.SetFaults(camundatest.Faults{})
	if a := send(t, g, "POST", "/v2/jobs/"+key+"/completion", ""); a.status != 204 {
		t.Errorf("completion without faults: %d %s", a.status, a.body)
	}
}

func TestFaultAfterProcessing(t *testing.T) {
	g := memGateway(t)
	createInstance(t, g, `{"processDefinitionId":"p"}`)
	key := activateNow(t, g, "p", 1)[0].JobKey
	g.SetFaults(camundatest.Faults{DeadlineExceeded: 1, AfterProcessing: true})
	if a := send(t, g, "POST", "/v2/jobs/"+key+"/completion", ""); a.status != 504 {
		t.Fatalf("completion: %d %s", a.status, a.body)
	}
	g.SetFaults(camundatest.Faults{})
	// The job completed all the same: a retry finds it gone.
	if a := send(t, g, "POST", "/v2/jobs/"+key+"/completion", ""); a.status != 404 {
		t.Errorf("retried completion: %d %s", a.status, a.body)
	}
	s := g.Stats()
	if r := s.Routes["/v2/jobs/{jobKey}/completion"]; s.JobsCompleted != 1 || r.Faults != 1 || r.Accepted != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t, camundatest.WithFaults(camundatest.Faults{Latency: 300 * time.Millisecond}),
			camundatest.WithCapacity(camundatest.Capacity{ServiceTime: 20 * time.Millisecond}))
		start := time.Now()
		send(t, g, "GET", "/v2/topology", "")
		if d := time.Since(start); d != 320*time.Millisecond {
			t.Errorf("answered after %v, want latency plus service time, 320ms", d)
		}
		g.SetFaults(camundatest.Faults{})
		start = time.Now()
		send(t, g, "GET", "/v2/topology", "")
		if d := time.Since(start); d != 20*time.Millisecond {
			t.Errorf("answered after %v, want 20ms", d)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	g := memGateway(t, camundatest.WithCapacity(exhausted), camundatest.WithRetryAfter(1500*time.Millisecond))
	create := func() answer { return send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`) }
	if a := create(); a.status != 200 || a.header.Get("Retry-After") != "" {
		t.Errorf("accepted: %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	if a := create(); a.status != 503 || a.header.Get("Retry-After") != "2" {
		t.Errorf("refused: %d, Retry-After %q, want 2", a.status, a.header.Get("Retry-After"))
	}
	g.SetRetryAfter(0)
	if a := create(); a.status != 503 || a.header.Get("Retry-After") != "" {
		t.Errorf("refused without Retry-After: %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
}

func TestOutOfDisk(t *testing.T) {
	for _, tt := range []struct {
		version            camundatest.Version
		status, activation int
	}{
		{camundatest.V86, 429, 429},
		{camundatest.V87, 429, 429},
		{camundatest.V880, 503, 500},
		{camundatest.V883, 503, 503},
	} {
		t.Run(tt.version.String(), func(t *testing.T) {
			g := memGateway(t, camundatest.WithVersion(tt.version))
			createInstance(t, g, `{"processDefinitionId":"p"}`)
			key := activateNow(t, g, "p", 1)[0].JobKey
			g.StartOutOfDisk()
			for path, body := range map[string]string{
				"/v2/process-instances":           `{"processDefinitionId":"p"}`,
				"/v2/jobs/" + key + "/completion": commandBody("completion"),
			} {
				req, _ := http.NewRequest("POST", "http://gateway.test"+path, nil)
				resp, err := g.Transport().RoundTrip(withBody(req, body))
				if err != nil {
					t.Fatal(err)
				}
				v := verdict.Of(req, resp, nil)
				a := readAnswer(t, resp)
				p := a.problem(t)
				if a.status != tt.status || p.Title != "RESOURCE_EXHAUSTED" || p.Detail != "Cannot accept requests for partition 1. Broker is out of disk space" {
					t.Errorf("%s: %d %s", path, a.status, a.body)
				}
				if v.Kind != verdict.Backpressure || !v.OutOfDisk {
					t.Errorf("%s: verdict %v, out of disk %v", path, v.Kind, v.OutOfDisk)
				}
			}
			a := send(t, g, "POST", "/v2/jobs/activation", `{"type":"p","maxJobsToActivate":1,"timeout":1,"requestTimeout":-1}`)
			if p := a.problem(t); a.status != tt.activation || !containsResourceExhausted(p) {
				t.Errorf("activation: %d %s", a.status, a.body)
			}
			topo := send(t, g, "GET", "/v2/topology", "")
			if topo.status != 200 || !strings.Contains(string(topo.body), `"health":"unhealthy"`) {
				t.Errorf("topology: %d %s", topo.status, topo.body)
			}
			g.StopOutOfDisk()
			if a := send(t, g, "POST", "/v2/jobs/"+key+"/completion", ""); a.status != 204 {
				t.Errorf("after the disk was freed: %d %s", a.status, a.body)
			}
			if s := g.Stats(); s.Total().OutOfDisk != 3 {
				t.Errorf("stats %v", s)
			}
		})
	}
}

func containsResourceExhausted(p verdict.Problem) bool {
	return p.Title == "RESOURCE_EXHAUSTED" || strings.Contains(p.Detail, "RESOURCE_EXHAUSTED")
}

func TestOutOfDiskFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t)
		create := func() int { return send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`).status }
		g.OutOfDiskFor(time.Minute)
		if s := create(); s != 503 {
			t.Fatalf("during: %d", s)
		}
		time.Sleep(time.Minute)
		synctest.Wait() // the end of the period runs in a goroutine of its own
		if s := create(); s != 200 {
			t.Fatalf("after: %d", s)
		}
		// An explicit start overrides a pending end.
		g.OutOfDiskFor(time.Minute)
		g.StartOutOfDisk()
		time.Sleep(time.Hour)
		synctest.Wait()
		if s := create(); s != 503 {
			t.Fatalf("started explicitly: %d", s)
		}
		g.StopOutOfDisk()
		if s := create(); s != 200 {
			t.Fatalf("stopped: %d", s)
		}
	})
}

func TestOutageInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t, camundatest.WithBodyHashes())
		if err := g.StartOutage(0); err == nil {
			t.Error("StartOutage took an unknown outage")
		}
		topology := func() error {
			_, err := sendCtx(context.Background(), g, "GET", "/v2/topology", "")
			return err
		}
		for _, tt := range []struct {
			give    camundatest.Outage
			op      string
			errno   syscall.Errno
			notSent bool
		}{
			{camundatest.Refuse, "dial", syscall.ECONNREFUSED, true},
			{camundatest.Reset, "read", syscall.ECONNRESET, false},
		} {
			if err := g.OutageFor(tt.give, time.Minute); err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("POST", "http://gateway.test/v2/process-instances", nil)
			_, err := g.Transport().RoundTrip(withBody(req, `{"processDefinitionId":"p"}`))
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != tt.op || !errors.Is(err, tt.errno) {
				t.Errorf("%v: %v", tt.give, err)
			}
			if v := verdict.Of(req, nil, err); v.Kind != verdict.TransportError || v.NotSent != tt.notSent {
				t.Errorf("%v: verdict %v, not sent %v", tt.give, v.Kind, v.NotSent)
			}
			time.Sleep(time.Minute)
			synctest.Wait() // the end of the outage runs in a goroutine of its own
			if err := topology(); err != nil {
				t.Errorf("after the %v outage: %v", tt.give, err)
			}
		}
		// A reset request was received; a refused one was not.
		s := g.Stats()
		if r := s.Routes["/v2/process-instances"]; r.Requests != 1 || r.Resets != 1 || s.InstancesCreated != 0 {
			t.Errorf("stats %v", s)
		}
		if h := g.BodyHashes("/v2/process-instances"); len(h) != 1 {
			t.Errorf("hashes %v", h)
		}
	})
}

func TestOutageRefuse(t *testing.T) {
	g := netGateway(t)
	url := g.URL()
	if a := send(t, g, "GET", "/v2/topology", ""); a.status != 200 {
		t.Fatal(a.status)
	}
	if err := g.StartOutage(camundatest.Refuse); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", url+"/v2/topology", nil)
	resp, err := g.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("a refusing gateway answered")
	}
	if v := verdict.Of(req, nil, err); v.Kind != verdict.TransportError || !v.NotSent || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("verdict %v, not sent %v: %v", v.Kind, v.NotSent, err)
	}
	if err := g.StopOutage(); err != nil {
		t.Fatal(err)
	}
	if g.URL() != url {
		t.Errorf("URL moved from %s to %s", url, g.URL())
	}
	if a := send(t, g, "GET", "/v2/topology", ""); a.status != 200 {
		t.Errorf("after the outage: %d", a.status)
	}
}

func TestOutageReset(t *testing.T) {
	g := netGateway(t)
	if err := g.StartOutage(camundatest.Reset); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", g.URL()+"/v2/process-instances", nil)
	resp, err := g.Client().Do(withBody(req, `{"processDefinitionId":"p"}`))
	if err == nil {
		resp.Body.Close()
		t.Fatal("a resetting gateway answered")
	}
	if v := verdict.Of(req, nil, err); v.Kind != verdict.TransportError || v.NotSent {
		t.Errorf("verdict %v, not sent %v: %v", v.Kind, v.NotSent, err)
	}
	if err := g.StopOutage(); err != nil {
		t.Fatal(err)
	}
	if a := send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`); a.status != 200 {
		t.Errorf("after the outage: %d", a.status)
	}
	if s := g.Stats(); s.Routes["/v2/process-instances"].Resets < 1 || s.InstancesCreated != 1 {
		t.Errorf("stats %v", s)
	}
}
