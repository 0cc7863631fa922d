package camundatest_test

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/camundatest"
	"github.com/ebb-go/ebb/verdict"
)

// exhausted is a capacity whose only token the first request takes.
var exhausted = camundatest.Capacity{Rate: 1e-9, Burst: 1}

func TestBackpressurePerVersion(t *testing.T) {
	for _, tt := range []struct {
		name   string
		opts   []camundatest.Option
		path   string
		body   string
		status int
		title  string
		detail string
	}{
		{"8.6 command", []camundatest.Option{camundatest.WithVersion(camundatest.V86)},
			"/v2/process-instances", `{"processDefinitionId":"p"}`,
			429, "RESOURCE_EXHAUSTED", "Reached maximum capacity of requests handled"},
		{"8.6 activation", []camundatest.Option{camundatest.WithVersion(camundatest.V86)},
			"/v2/jobs/activation", `{"type":"p","maxJobsToActivate":1,"timeout":1,"requestTimeout":-1}`,
			429, "RESOURCE_EXHAUSTED", "Reached maximum capacity of requests handled"},
		{"8.6 exception title", []camundatest.Option{camundatest.WithVersion(camundatest.V86), camundatest.WithExceptionTitle()},
			"/v2/process-instances", `{"processDefinitionId":"p"}`,
			429, "io.camunda.zeebe.broker.client.api.RequestRetriesExhaustedException",
			"Expected to handle REST API request, but all retries have been exhausted"},
		{"8.8.0 command", []camundatest.Option{camundatest.WithVersion(camundatest.V880)},
			"/v2/process-instances", `{"processDefinitionId":"p"}`,
			503, "RESOURCE_EXHAUSTED", "Reached maximum capacity of requests handled"},
		{"8.8.0 activation", []camundatest.Option{camundatest.WithVersion(camundatest.V880)},
			"/v2/jobs/activation", `{"type":"payment","maxJobsToActivate":1,"timeout":1,"requestTimeout":-1}`,
			500, "java.lang.RuntimeException",
			"Unexpected error occurred during the request processing: Expected to activate jobs of type 'payment', but no jobs available and at least one broker returned 'RESOURCE_EXHAUSTED'. Please try again later."},
		{"8.8.3 command", nil,
			"/v2/process-instances", `{"processDefinitionId":"p"}`,
			503, "RESOURCE_EXHAUSTED", "Expected to handle request, but all retries have been exhausted"},
		{"8.8.3 activation", []camundatest.Option{camundatest.WithVersion(camundatest.V883)},
			"/v2/jobs/activation", `{"type":"p","maxJobsToActivate":1,"timeout":1,"requestTimeout":-1}`,
			503, "RESOURCE_EXHAUSTED", "Expected to handle request, but all retries have been exhausted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := memGateway(t, append(tt.opts, camundatest.WithCapacity(exhausted))...)
			if a := send(t, g, "GET", "/v2/topology", ""); a.status != 200 {
				t.Fatalf("topology is bound by capacity: %d", a.status)
			}
			// The first request takes the only token, the second is refused.
			if a := send(t, g, "POST", tt.path, tt.body); a.status != 200 {
				t.Fatalf("first request: %d %s", a.status, a.body)
			}
			req, _ := http.NewRequest("POST", "http://gateway.test"+tt.path, nil)
			resp, err := g.Transport().RoundTrip(withBody(req, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			v := verdict.Of(req, resp, nil)
			a := readAnswer(t, resp)
			p := a.problem(t)
			if a.status != tt.status || p.Title != tt.title || p.Detail != tt.detail || p.Type != "about:blank" || p.Instance != tt.path {
				t.Errorf("got %d %s", a.status, a.body)
			}
			if v.Kind != verdict.Backpressure || v.OutOfDisk {
				t.Errorf("verdict %v (out of disk %v), want backpressure", v.Kind, v.OutOfDisk)
			}
			route := verdict.RouteOf(tt.path).Template
			if s := g.Stats().Routes[route]; s.Requests != 2 || s.Accepted != 1 || s.Backpressure != 1 || s.Rejected() != 1 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t, camundatest.WithCapacity(camundatest.Capacity{Slots: 2, ServiceTime: 100 * time.Millisecond}))
		var (
			mu    sync.Mutex
			codes = map[int]int{}
			wg    sync.WaitGroup
		)
		start := time.Now()
		for range 3 {
			wg.Go(func() {
				a := send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`)
				mu.Lock()
				codes[a.status]++
				mu.Unlock()
			})
			synctest.Wait() // in this order: two in service, then the third
		}
		wg.Wait()
		if codes[200] != 2 || codes[503] != 1 || time.Since(start) != 100*time.Millisecond {
			t.Errorf("codes %v after %v, want two served in 100ms and one refused", codes, time.Since(start))
		}
		// Slots free up as the service ends.
		if a := send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`); a.status != 200 {
			t.Errorf("after the service: %d", a.status)
		}
		if s := g.Stats(); s.MaxInFlight != 2 || s.InstancesCreated != 3 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t, camundatest.WithCapacity(camundatest.Capacity{Rate: 10, Burst: 2}))
		create := func() int { return send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`).status }
		if a, b, c := create(), create(), create(); a != 200 || b != 200 || c != 503 {
			t.Fatalf("burst: %d %d %d, want two accepted", a, b, c)
		}
		time.Sleep(99 * time.Millisecond)
		if s := create(); s != 503 {
			t.Fatalf("before a token: %d", s)
		}
		time.Sleep(time.Millisecond)
		if s := create(); s != 200 {
			t.Fatalf("after 100ms at 10/s: %d", s)
		}
		// A long quiet spell fills the bucket to its size, no more.
		time.Sleep(time.Hour)
		if a, b, c := create(), create(), create(); a != 200 || b != 200 || c != 503 {
			t.Errorf("after a quiet spell: %d %d %d", a, b, c)
		}
	})
}

func TestLongPollHoldsNoSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t, camundatest.WithCapacity(camundatest.Capacity{Slots: 1, ServiceTime: 10 * time.Millisecond}))
		got := make(chan []activatedJob)
		go func() {
			got <- activate(t, g, `{"type":"p","maxJobsToActivate":1,"timeout":1000,"requestTimeout":60000}`)
		}()
		synctest.Wait()
		time.Sleep(10 * time.Millisecond) // served; now waiting for jobs
		synctest.Wait()
		if a := send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`); a.status != 200 {
			t.Fatalf("refused while an activation waits: %d %s", a.status, a.body)
		}
		if jobs := <-got; len(jobs) != 1 {
			t.Errorf("jobs %+v", jobs)
		}
	})
}

func TestDrainNeverRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t, camundatest.WithCapacity(camundatest.Capacity{Slots: 1, ServiceTime: time.Second}))
		for range 3 {
			if c := createInstance(t, g, `{"processDefinitionId":"p"}`); c.ProcessInstanceKey == "" {
				t.Fatal("no instance")
			}
		}
		jobs := activateNow(t, g, "p", 3)
		// Hold the only slot with a slow request, then drain.
		hold := make(chan int)
		go func() { hold <- send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`).status }()
		synctest.Wait()
		if a := send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`); a.status != 503 {
			t.Fatalf("the slot is not taken: %d", a.status)
		}
		for i, cmd := range []string{"completion", "failure", "error"} {
			a := send(t, g, "POST", "/v2/jobs/"+jobs[i].JobKey+"/"+cmd, commandBody(cmd))
			if a.status != http.StatusNoContent {
				t.Errorf("%s refused: %d %s", cmd, a.status, a.body)
			}
		}
		if s := <-hold; s != 200 {
			t.Errorf("slow request: %d", s)
		}
		s := g.Stats()
		for _, r := range []string{"/v2/jobs/{jobKey}/completion", "/v2/jobs/{jobKey}/failure", "/v2/jobs/{jobKey}/error"} {
			if rs := s.Routes[r]; rs.Accepted != 1 || rs.Rejected() != 0 {
				t.Errorf("%s: %+v", r, rs)
			}
		}
		if s.MaxInFlight != 1 {
			t.Errorf("drain operations took slots: max in flight %d", s.MaxInFlight)
		}
	})
}

func TestSetCapacity(t *testing.T) {
	g := memGateway(t, camundatest.WithCapacity(exhausted))
	create := func() int { return send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`).status }
	if a, b := create(), create(); a != 200 || b != 503 {
		t.Fatalf("before: %d %d", a, b)
	}
	g.SetCapacity(camundatest.Capacity{})
	for range 10 {
		if s := create(); s != 200 {
			t.Fatalf("after lifting the bound: %d", s)
		}
	}
	g.SetCapacity(exhausted)
	if s := create(); s != 503 {
		t.Errorf("after bounding again, with the bucket as the last bounded request left it: %d", s)
	}
	defer func() {
		if recover() == nil {
			t.Error("SetCapacity took a negative slot count")
		}
	}()
	g.SetCapacity(camundatest.Capacity{Slots: -1})
}
