package camundatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/camundatest"
)

func TestTopology(t *testing.T) {
	for _, tt := range []struct {
		give camundatest.Version
		want string
	}{
		{camundatest.V86, "8.6.0"},
		{camundatest.V880, "8.8.0"},
		{camundatest.V883, "8.8.3"},
	} {
		t.Run(tt.give.String(), func(t *testing.T) {
			g := memGateway(t, camundatest.WithVersion(tt.give))
			a := send(t, g, "GET", "/v2/topology", "")
			if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q", a.status, a.header.Get("Content-Type"))
			}
			var topo struct {
				Brokers []struct {
					NodeID     *int   `json:"nodeId"`
					Host       string `json:"host"`
					Port       int    `json:"port"`
					Version    string `json:"version"`
					Partitions []struct {
						PartitionID int    `json:"partitionId"`
						Role        string `json:"role"`
						Health      string `json:"health"`
					} `json:"partitions"`
				} `json:"brokers"`
				ClusterSize       int    `json:"clusterSize"`
				PartitionsCount   int    `json:"partitionsCount"`
				ReplicationFactor int    `json:"replicationFactor"`
				GatewayVersion    string `json:"gatewayVersion"`
			}
			a.decode(t, &topo)
			if topo.GatewayVersion != tt.want || topo.ClusterSize != 1 || topo.PartitionsCount != 1 || topo.ReplicationFactor != 1 {
				t.Errorf("topology %s", a.body)
			}
			if len(topo.Brokers) != 1 || topo.Brokers[0].NodeID == nil || topo.Brokers[0].Host == "" || topo.Brokers[0].Port == 0 ||
				topo.Brokers[0].Version != tt.want || len(topo.Brokers[0].Partitions) != 1 {
				t.Fatalf("brokers %s", a.body)
			}
			if p := topo.Brokers[0].Partitions[0]; p.PartitionID != 1 || p.Role != "leader" || p.Health != "healthy" {
				t.Errorf("partition %+v", p)
			}
		})
	}
}

func TestCreateInstance(t *testing.T) {
	g := memGateway(t, camundatest.WithProcess("order", "ship"))
	c := createInstance(t, g, `{"processDefinitionId":"order","variables":{"orderId":42,"big":12345678901234567890}}`)
	// Zeebe's first keys on partition 1: the definition, the instance.
	if c.ProcessDefinitionID != "order" || c.ProcessDefinitionKey != "2251799813685249" || c.ProcessDefinitionVersion != 1 ||
		c.ProcessInstanceKey != "2251799813685250" || c.TenantID != "<default>" || c.Variables == nil {
		t.Errorf("created %+v", c)
	}
	// The same definition, found by its key; the version may be named.
	for _, body := range []string{
		`{"processDefinitionKey":"2251799813685249"}`,
		`{"processDefinitionKey":"2251799813685249","processDefinitionVersion":1,"tenantId":"t1"}`,
	} {
		c2 := createInstance(t, g, body)
		if c2.ProcessDefinitionID != "order" || c2.ProcessDefinitionKey != c.ProcessDefinitionKey || c2.ProcessInstanceKey == c.ProcessInstanceKey {
			t.Errorf("by key %s: %+v", body, c2)
		}
	}
	jobs := activateNow(t, g, "ship", 10)
	if len(jobs) != 3 || jobs[2].TenantID != "t1" {
		t.Fatalf("jobs %+v", jobs)
	}
	// Variables reach the job byte for byte, big numbers included.
	createInstance(t, g, `{"processDefinitionId":"order","variables":{"big":12345678901234567890}}`)
	raw := send(t, g, "POST", "/v2/jobs/activation", `{"type":"ship","maxJobsToActivate":1,"timeout":1000,"requestTimeout":-1}`)
	if !strings.Contains(string(raw.body), `"big":12345678901234567890`) {
		t.Errorf("variables not kept verbatim: %s", raw.body)
	}

	for _, tt := range []struct {
		name, body string
		status     int
		title      string
		detail     string
	}{
		{"no body", ``, 400, "Bad Request", "Required request body is missing"},
		{"not json", `{"processDefinitionId":`, 400, "Bad Request", "Failed to read request"},
		{"variables not an object", `{"processDefinitionId":"x","variables":[1]}`, 400, "Bad Request", "Request property [variables] cannot be parsed"},
		{"key as a number", `{"processDefinitionKey":2251799813685249}`, 400, "Bad Request", "Request property [processDefinitionKey] cannot be parsed"},
		{"unknown field", `{"processDefinitionId":"x","bpmnProcessId":"x"}`, 400, "Bad Request", "Request property [bpmnProcessId] cannot be parsed"},
		{"neither", `{"variables":{}}`, 400, "INVALID_ARGUMENT", "At least one of [processDefinitionId, processDefinitionKey] is required."},
		{"both", `{"processDefinitionId":"x","processDefinitionKey":"1"}`, 400, "INVALID_ARGUMENT", "Only one of [processDefinitionId, processDefinitionKey] is allowed."},
		{"bad key", `{"processDefinitionKey":"abc"}`, 400, "INVALID_ARGUMENT", "The provided processDefinitionKey 'abc' is not a valid key."},
		{"bad reference", `{"processDefinitionId":"x","operationReference":0}`, 400, "INVALID_ARGUMENT", "The value for operationReference is '0' but must be > 0."},
		{"unknown key", `{"processDefinitionKey":"7"}`, 404, "NOT_FOUND",
			"Command 'CREATE' rejected with code 'NOT_FOUND': Expected to find process definition with key '7', but none found"},
		{"unknown version", `{"processDefinitionId":"order","processDefinitionVersion":2}`, 404, "NOT_FOUND",
			"Command 'CREATE' rejected with code 'NOT_FOUND': Expected to find process definition with process ID 'order' and version '2', but none found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := send(t, g, "POST", "/v2/process-instances", tt.body)
			p := a.problem(t)
			if a.status != tt.status || p.Title != tt.title || p.Detail != tt.detail || p.Type != "about:blank" || p.Instance != "/v2/process-instances" {
				t.Errorf("got %d %s", a.status, a.body)
			}
		})
	}
}

func TestJobTypes(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []camundatest.Option
		give string
		want string
	}{
		{"process ID by default", nil, "billing", "billing"},
		{"declared process", []camundatest.Option{camundatest.WithProcess("billing", "charge")}, "billing", "charge"},
		{"default type", []camundatest.Option{camundatest.WithDefaultJobType("work")}, "billing", "work"},
		{"declared beats default", []camundatest.Option{camundatest.WithDefaultJobType("work"), camundatest.WithProcess("billing", "charge")}, "billing", "charge"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := memGateway(t, tt.opts...)
			createInstance(t, g, `{"processDefinitionId":"`+tt.give+`"}`)
			if jobs := activateNow(t, g, tt.want, 1); len(jobs) != 1 {
				t.Errorf("no job of type %q", tt.want)
			}
		})
	}
}

func TestActivatedJobShape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t, camundatest.WithProcess("order", "ship"), camundatest.WithJobRetries(5))
		c := createInstance(t, g, `{"processDefinitionId":"order","variables":{"a":1,"b":"two","c":true}}`)
		start := time.Now()
		jobs := activate(t, g, `{"type":"ship","maxJobsToActivate":5,"timeout":30000,"worker":"w1","fetchVariable":["a","c","missing"]}`)
		if len(jobs) != 1 {
			t.Fatalf("jobs %+v", jobs)
		}
		j := jobs[0]
		want := activatedJob{
			JobKey:                   "2251799813685252",
			Type:                     "ship",
			ProcessInstanceKey:       c.ProcessInstanceKey,
			ProcessDefinitionID:      "order",
			ProcessDefinitionVersion: 1,
			ProcessDefinitionKey:     c.ProcessDefinitionKey,
			ElementID:                j.ElementID,
			ElementInstanceKey:       "2251799813685251",
			Worker:                   "w1",
			Retries:                  5,
			Deadline:                 start.Add(30 * time.Second).UnixMilli(),
			TenantID:                 "<default>",
		}
		if j.ElementID == "" || j.CustomHeaders == nil || len(j.Variables) != 2 || j.Variables["a"] != 1.0 || j.Variables["c"] != true {
			t.Errorf("job %+v", j)
		}
		j.CustomHeaders, j.Variables = nil, nil
		if !reflect.DeepEqual(j, want) {
			t.Errorf("job\n got %+v\nwant %+v", j, want)
		}
		// The wire carries the documented names, and the keys as strings.
		createInstance(t, g, `{"processDefinitionId":"order"}`)
		a := send(t, g, "POST", "/v2/jobs/activation", `{"type":"ship","maxJobsToActivate":1,"timeout":1}`)
		var m struct {
			Jobs []map[string]json.RawMessage `json:"jobs"`
		}
		a.decode(t, &m)
		for _, k := range []string{"jobKey", "type", "processInstanceKey", "processDefinitionId", "processDefinitionVersion",
			"processDefinitionKey", "elementId", "elementInstanceKey", "customHeaders", "worker", "retries", "deadline",
			"variables", "tenantId", "kind", "listenerEventType"} {
			if _, ok := m.Jobs[0][k]; !ok {
				t.Errorf("activated job lacks %q: %s", k, a.body)
			}
		}
		if s := string(m.Jobs[0]["jobKey"]); !strings.HasPrefix(s, `"`) {
			t.Errorf("jobKey %s is not a string", s)
		}
	})
}

func TestActivationValidation(t *testing.T) {
	g := memGateway(t)
	for _, tt := range []struct {
		body, title, detail string
	}{
		{``, "Bad Request", "Required request body is missing"},
		{`[]`, "Bad Request", "Failed to read request"},
		{`{"maxJobsToActivate":1,"timeout":1}`, "INVALID_ARGUMENT", "No type provided."},
		{`{"type":"a","maxJobsToActivate":1}`, "INVALID_ARGUMENT", "No timeout provided."},
		{`{"type":"a","maxJobsToActivate":1,"timeout":0}`, "INVALID_ARGUMENT", "The value for timeout is '0' but must be greater than 0."},
		{`{"type":"a","timeout":1}`, "INVALID_ARGUMENT", "No maxJobsToActivate provided."},
		{`{"type":"a","timeout":1,"maxJobsToActivate":-2}`, "INVALID_ARGUMENT", "The value for maxJobsToActivate is '-2' but must be greater than 0."},
		// Every violation at once, as the gateway's validator lists them.
		{`{"worker":"w"}`, "INVALID_ARGUMENT", "No type provided. No timeout provided. No maxJobsToActivate provided."},
		// Fields the 8.8 gateway's JSON mapper cannot bind, in the body's order.
		{`{"type":"a","timeout":1,"maxJobsToActivates":1}`, "Bad Request", "Request property [maxJobsToActivates] cannot be parsed"},
		{`{"type":7,"timeout":1,"maxJobsToActivate":1}`, "Bad Request", "Request property [type] cannot be parsed"},
		{`{"type":"a","timeout":"soon","maxJobsToActivate":1}`, "Bad Request", "Request property [timeout] cannot be parsed"},
		{`{"type":"a","timeout":1.5,"maxJobsToActivate":1}`, "Bad Request", "Request property [timeout] cannot be parsed"},
		{`{"type":"a","timeout":1,"maxJobsToActivate":2147483648}`, "Bad Request", "Request property [maxJobsToActivate] cannot be parsed"},
		{`{"type":"a","timeout":1,"maxJobsToActivate":1,"fetchVariable":"x"}`, "Bad Request", "Request property [fetchVariable] cannot be parsed"},
		{`{"type":"a","timeout":1,"maxJobsToActivate":1,"tenantFilter":"PROVIDED"}`, "Bad Request", "Request property [tenantFilter] cannot be parsed"},
	} {
		a := send(t, g, "POST", "/v2/jobs/activation", tt.body)
		if p := a.problem(t); a.status != 400 || p.Title != tt.title || p.Detail != tt.detail {
			t.Errorf("%s: got %d %s", tt.body, a.status, a.body)
		}
	}
}

func TestJobActivatedOnceUntilTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t)
		createInstance(t, g, `{"processDefinitionId":"p"}`)
		const req = `{"type":"p","maxJobsToActivate":10,"timeout":1000,"requestTimeout":-1}`
		first := activate(t, g, req)
		if len(first) != 1 {
			t.Fatalf("first activation: %+v", first)
		}
		if again := activate(t, g, req); len(again) != 0 {
			t.Fatalf("activated twice while locked: %+v", again)
		}
		time.Sleep(999 * time.Millisecond)
		if again := activate(t, g, req); len(again) != 0 {
			t.Fatalf("activated before the lock lapsed: %+v", again)
		}
		time.Sleep(time.Millisecond)
		again := activate(t, g, req)
		if len(again) != 1 || again[0].JobKey != first[0].JobKey {
			t.Fatalf("not activatable after the timeout: %+v", again)
		}
		if s := g.Stats(); s.JobsActivated != 2 || s.JobsOpen != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestCompleteJob(t *testing.T) {
	g := memGateway(t)
	createInstance(t, g, `{"processDefinitionId":"p"}`)
	key := activateNow(t, g, "p", 1)[0].JobKey
	path := "/v2/jobs/" + key + "/completion"
	if a := send(t, g, "POST", path, `{"variables":{"done":true}}`); a.status != http.StatusNoContent || len(a.body) != 0 {
		t.Fatalf("complete: %d %s", a.status, a.body)
	}
	a := send(t, g, "POST", path, "")
	p := a.problem(t)
	want := "Command 'COMPLETE' rejected with code 'NOT_FOUND': Expected to complete job with key '" + key + "', but no such job was found"
	if a.status != http.StatusNotFound || p.Title != "NOT_FOUND" || p.Detail != want || p.Instance != path {
		t.Errorf("complete twice: %d %s", a.status, a.body)
	}
	s := g.Stats()
	if s.JobsCompleted != 1 || s.JobsOpen != 0 || s.Routes["/v2/jobs/{jobKey}/completion"].Accepted != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestCompleteActivatableJob(t *testing.T) {
	// The broker completes a job that is activatable as well as one that
	// is activated.
	g := memGateway(t)
	createInstance(t, g, `{"processDefinitionId":"p"}`)
	if a := send(t, g, "POST", "/v2/jobs/2251799813685252/completion", ""); a.status != http.StatusNoContent {
		t.Errorf("got %d %s", a.status, a.body)
	}
}

func TestFailJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t)
		createInstance(t, g, `{"processDefinitionId":"p"}`)
		key := activateNow(t, g, "p", 1)[0].JobKey

		// With retries left and no back-off: activatable again at once,
		// with the retries the worker gave.
		if a := send(t, g, "POST", "/v2/jobs/"+key+"/failure", `{"retries":2,"errorMessage":"boom"}`); a.status != http.StatusNoContent {
			t.Fatalf("fail: %d %s", a.status, a.body)
		}
		jobs := activateNow(t, g, "p", 1)
		if len(jobs) != 1 || jobs[0].Retries != 2 {
			t.Fatalf("after failure: %+v", jobs)
		}

		// With a back-off: failed, not activatable, until it ends.
		if a := send(t, g, "POST", "/v2/jobs/"+key+"/failure", `{"retries":1,"retryBackOff":5000}`); a.status != http.StatusNoContent {
			t.Fatalf("fail: %d %s", a.status, a.body)
		}
		if jobs := activateNow(t, g, "p", 1); len(jobs) != 0 {
			t.Fatalf("activated during back-off: %+v", jobs)
		}
		a := send(t, g, "POST", "/v2/jobs/"+key+"/completion", "")
		p := a.problem(t)
		if a.status != http.StatusConflict || p.Title != "INVALID_STATE" ||
			p.Detail != "Command 'COMPLETE' rejected with code 'INVALID_STATE': Expected to complete job with key '"+key+"', but it is in state 'FAILED'" {
			t.Errorf("complete during back-off: %d %s", a.status, a.body)
		}
		time.Sleep(5 * time.Second)
		jobs = activateNow(t, g, "p", 1)
		if len(jobs) != 1 || jobs[0].Retries != 1 {
			t.Fatalf("after back-off: %+v", jobs)
		}

		// With no retries left: an incident; the job is stuck.
		if a := send(t, g, "POST", "/v2/jobs/"+key+"/failure", `{"retries":0,"errorMessage":"gave up"}`); a.status != http.StatusNoContent {
			t.Fatalf("fail: %d %s", a.status, a.body)
		}
		time.Sleep(time.Hour)
		if jobs := activateNow(t, g, "p", 1); len(jobs) != 0 {
			t.Fatalf("activated in an incident: %+v", jobs)
		}
		for _, cmd := range []string{"completion", "failure", "error"} {
			a := send(t, g, "POST", "/v2/jobs/"+key+"/"+cmd, commandBody(cmd))
			if p := a.problem(t); a.status != http.StatusConflict || p.Title != "INVALID_STATE" || !strings.Contains(p.Detail, "in state 'FAILED'") {
				t.Errorf("%s in an incident: %d %s", cmd, a.status, a.body)
			}
		}
		s := g.Stats()
		if s.JobsFailed != 3 || s.Incidents != 1 || s.JobsOpen != 0 || s.JobsActivated != 3 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestThrowError(t *testing.T) {
	g := memGateway(t)
	createInstance(t, g, `{"processDefinitionId":"p"}`)
	key := activateNow(t, g, "p", 1)[0].JobKey
	path := "/v2/jobs/" + key + "/error"
	for _, tt := range []struct{ body, detail string }{
		{``, "Required request body is missing"},
		{`{"errorMessage":"no code"}`, "No errorCode provided."},
		{`{"errorCode":" "}`, "No errorCode provided."},
		{`{"errorCode":"E","retries":1}`, "Request property [retries] cannot be parsed"},
	} {
		a := send(t, g, "POST", path, tt.body)
		if p := a.problem(t); a.status != 400 || p.Detail != tt.detail {
			t.Errorf("%q: %d %s", tt.body, a.status, a.body)
		}
	}
	if a := send(t, g, "POST", path, `{"errorCode":"NOT_IN_STOCK","errorMessage":"sold out","variables":{"x":1}}`); a.status != http.StatusNoContent {
		t.Fatalf("throw error: %d %s", a.status, a.body)
	}
	a := send(t, g, "POST", "/v2/jobs/"+key+"/completion", "")
	if p := a.problem(t); a.status != 404 || p.Title != "NOT_FOUND" {
		t.Errorf("complete after error: %d %s", a.status, a.body)
	}
	if s := g.Stats(); s.JobsErrored != 1 || s.JobsOpen != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestUnknownJob(t *testing.T) {
	g := memGateway(t)
	for _, tt := range []struct{ cmd, intent, verb string }{
		{"completion", "COMPLETE", "complete"},
		{"failure", "FAIL", "fail"},
		{"error", "THROW_ERROR", "throw an error for"},
	} {
		a := send(t, g, "POST", "/v2/jobs/2251799813685999/"+tt.cmd, commandBody(tt.cmd))
		p := a.problem(t)
		want := "Command '" + tt.intent + "' rejected with code 'NOT_FOUND': Expected to " + tt.verb + " job with key '2251799813685999', but no such job was found"
		if a.status != 404 || p.Title != "NOT_FOUND" || p.Detail != want {
			t.Errorf("%s: %d %s", tt.cmd, a.status, a.body)
		}
		a = send(t, g, "POST", "/v2/jobs/abc/"+tt.cmd, commandBody(tt.cmd))
		if p := a.problem(t); a.status != 400 || p.Title != "INVALID_ARGUMENT" || p.Detail != "The provided jobKey 'abc' is not a valid key." {
			t.Errorf("%s with a bad key: %d %s", tt.cmd, a.status, a.body)
		}
		a = send(t, g, "POST", "/v2/jobs/1/"+tt.cmd, `{"variables":`)
		if p := a.problem(t); a.status != 400 || p.Title != "Bad Request" {
			t.Errorf("%s with a bad body: %d %s", tt.cmd, a.status, a.body)
		}
	}
}

func TestUnknownRoutes(t *testing.T) {
	g := memGateway(t)
	for _, tt := range []struct {
		method, path string
		status       int
		route        string
	}{
		{"GET", "/", 404, "other"},
		{"GET", "/v1/topology", 404, "other"},
		{"POST", "/v2/messages/publication", 404, "/v2/messages/publication"},
		{"GET", "/v2/whatever/else", 404, "other"},
		{"POST", "/v2/topology", 405, "/v2/topology"},
		{"GET", "/v2/jobs/activation", 405, "/v2/jobs/activation"},
	} {
		a := send(t, g, tt.method, tt.path, "")
		p := a.problem(t)
		if a.status != tt.status || p.Instance != tt.path {
			t.Errorf("%s %s: %d %s", tt.method, tt.path, a.status, a.body)
		}
		if tt.status == 405 && a.header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tt.method, tt.path)
		}
		if g.Stats().Routes[tt.route].Requests == 0 {
			t.Errorf("%s %s not counted under %s", tt.method, tt.path, tt.route)
		}
	}
}

func TestContextPath(t *testing.T) {
	g := netGateway(t, camundatest.WithContextPath("/zeebe/"), camundatest.WithVersion(camundatest.V880),
		camundatest.WithCapacity(camundatest.Capacity{Rate: 1e-9, Burst: 1}))
	if !strings.HasSuffix(g.URL(), "/zeebe") {
		t.Fatalf("URL %q lacks the context path", g.URL())
	}
	if a := send(t, g, "GET", "/v2/topology", ""); a.status != 200 {
		t.Errorf("topology under the context path: %d %s", a.status, a.body)
	}
	createInstance(t, g, `{"processDefinitionId":"p"}`) // takes the only token
	a := send(t, g, "POST", "/v2/jobs/activation", `{"type":"p","maxJobsToActivate":1,"timeout":1}`)
	if p := a.problem(t); a.status != 500 || p.Instance != "/zeebe/v2/jobs/activation" {
		t.Errorf("refused activation: %d %s", a.status, a.body)
	}
	// Outside the context path nothing is served.
	req, _ := http.NewRequest("GET", strings.TrimSuffix(g.URL(), "/zeebe")+"/v2/topology", nil)
	resp, err := g.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("outside the context path: %d", resp.StatusCode)
	}
}

func TestLongPollReturnsWhenJobArrives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t)
		start := time.Now()
		got := make(chan []activatedJob)
		go func() {
			got <- activate(t, g, `{"type":"p","maxJobsToActivate":1,"timeout":1000,"requestTimeout":60000}`)
		}()
		synctest.Wait() // the activation is parked
		time.Sleep(3 * time.Second)
		createInstance(t, g, `{"processDefinitionId":"p"}`)
		jobs := <-got
		if len(jobs) != 1 {
			t.Fatalf("jobs %+v", jobs)
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("answered after %v, want 3s, when the job arrived", waited)
		}
	})
}

func TestLongPollWakesWhenLockLapses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t)
		createInstance(t, g, `{"processDefinitionId":"p"}`)
		activateNow(t, g, "p", 1) // locked for 60s
		start := time.Now()
		jobs := activate(t, g, `{"type":"p","maxJobsToActivate":1,"timeout":1000,"requestTimeout":120000}`)
		if len(jobs) != 1 || time.Since(start) != time.Minute {
			t.Errorf("got %d jobs after %v, want 1 after 1m", len(jobs), time.Since(start))
		}
	})
}

func TestLongPollEmptyAfterRequestTimeout(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []camundatest.Option
		give string
		want time.Duration
	}{
		{"requestTimeout", nil, `,"requestTimeout":2500`, 2500 * time.Millisecond},
		{"default", nil, ``, 10 * time.Second},
		{"zero is the default", nil, `,"requestTimeout":0`, 10 * time.Second},
		{"configured default", []camundatest.Option{camundatest.WithLongPollTimeout(time.Second)}, ``, time.Second},
		{"negative answers at once", nil, `,"requestTimeout":-1`, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := memGateway(t, tt.opts...)
				start := time.Now()
				jobs := activate(t, g, `{"type":"p","maxJobsToActivate":1,"timeout":1000`+tt.give+`}`)
				if len(jobs) != 0 || time.Since(start) != tt.want {
					t.Errorf("got %d jobs after %v, want none after %v", len(jobs), time.Since(start), tt.want)
				}
			})
		})
	}
}

func TestLongPollEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := memGateway(t)
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		start := time.Now()
		_, err := sendCtx(ctx, g, "POST", "/v2/jobs/activation", `{"type":"p","maxJobsToActivate":1,"timeout":1000,"requestTimeout":60000}`)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 4*time.Second {
			t.Errorf("err %v after %v, want the context's deadline after 4s", err, time.Since(start))
		}
	})
}

func TestCloseEndsLongPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := camundatest.New()
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan []activatedJob)
		go func() {
			got <- activate(t, g, `{"type":"p","maxJobsToActivate":1,"timeout":1000,"requestTimeout":3600000}`)
		}()
		synctest.Wait() // the activation is parked
		start := time.Now()
		g.Close()
		if jobs := <-got; len(jobs) != 0 || time.Since(start) != 0 {
			t.Errorf("got %d jobs after %v, want none at once", len(jobs), time.Since(start))
		}
		g.Close()
		_, err = sendCtx(context.Background(), g, "GET", "/v2/topology", "")
		if op := (*net.OpError)(nil); !errors.As(err, &op) || op.Op != "dial" {
			t.Errorf("a closed gateway: %v, want a dial error", err)
		}
	})
}

func TestCloseOverNetwork(t *testing.T) {
	// goleak, in TestMain, checks that nothing is left behind.
	g := camundatest.NewGateway()
	wrote := make(chan struct{})
	var once sync.Once
	done := make(chan error)
	go func() {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(func() { close(wrote) }) },
		})
		_, err := sendCtx(ctx, g, "POST", "/v2/jobs/activation", `{"type":"p","maxJobsToActivate":1,"timeout":1000,"requestTimeout":3600000}`)
		done <- err
	}()
	<-wrote
	g.Close()
	<-done // answered with no jobs, or cut: either way it ended
	if _, err := sendCtx(context.Background(), g, "GET", "/v2/topology", ""); err == nil {
		t.Error("a closed gateway answered")
	}
}
