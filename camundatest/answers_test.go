package camundatest_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ebb-go/ebb/camundatest"
)

// The members each release's OpenAPI spec gives its answers: for 8.6 and
// 8.7 every property (their specs mark none required), for 8.8 the required
// ones plus tags, for 8.9 (the 9.x TypeScript client's spec) and 8.10
// (Camunda's main) the required ones.
var (
	topology86   = []string{"brokers", "clusterSize", "partitionsCount", "replicationFactor", "gatewayVersion"}
	topology88   = append(slices.Clone(topology86), "lastCompletedChangeId")
	topology89   = append(slices.Clone(topology88), "clusterId")
	broker86     = []string{"nodeId", "host", "port", "partitions", "version"}
	broker810    = append(slices.Clone(broker86), "brokerId")
	partition86  = []string{"partitionId", "role", "health"}
	partition810 = append(slices.Clone(partition86), "state")
	created86    = []string{"processDefinitionId", "processDefinitionKey", "processDefinitionVersion", "processInstanceKey", "tenantId", "variables"}
	created88    = append(slices.Clone(created86), "tags")
	created89    = append(slices.Clone(created88), "businessId")
	job86        = []string{"jobKey", "type", "processInstanceKey", "processDefinitionId", "processDefinitionVersion", "processDefinitionKey",
		"elementId", "elementInstanceKey", "customHeaders", "worker", "retries", "deadline", "variables", "tenantId"}
	job88  = append(slices.Clone(job86), "kind", "listenerEventType")
	job89  = append(slices.Clone(job88), "tags", "userTask", "rootProcessInstanceKey")
	job810 = append(slices.Clone(job89), "businessId", "leaseToken", "physicalTenantId", "priority")
)

func members(t *testing.T, raw json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return m
}

func sameMembers(t *testing.T, what string, m map[string]json.RawMessage, want []string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s members\n got %v\nwant %v", what, got, want)
	}
}

func TestAnswerShapesPerVersion(t *testing.T) {
	for _, tt := range []struct {
		v                                        camundatest.Version
		topology, broker, partition, create, job []string
		numberKeys                               bool
	}{
		{camundatest.V86, topology86, broker86, partition86, created86, job86, true},
		{camundatest.V87, topology86, broker86, partition86, created86, job86, true},
		{camundatest.V880, topology88, broker86, partition86, created88, job88, false},
		{camundatest.V883, topology88, broker86, partition86, created88, job88, false},
		{camundatest.V89, topology89, broker86, partition86, created89, job89, false},
		{camundatest.V810, topology89, broker810, partition810, created89, job810, false},
	} {
		t.Run(tt.v.String(), func(t *testing.T) {
			g := memGateway(t, camundatest.WithVersion(tt.v))
			topo := members(t, send(t, g, "GET", "/v2/topology", "").body)
			sameMembers(t, "topology", topo, tt.topology)
			var brokers []json.RawMessage
			json.Unmarshal(topo["brokers"], &brokers)
			broker := members(t, brokers[0])
			sameMembers(t, "broker", broker, tt.broker)
			var partitions []json.RawMessage
			json.Unmarshal(broker["partitions"], &partitions)
			sameMembers(t, "partition", members(t, partitions[0]), tt.partition)

			a := send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"p"}`)
			c := members(t, a.body)
			sameMembers(t, "created instance", c, tt.create)
			a = send(t, g, "POST", "/v2/jobs/activation", `{"type":"p","maxJobsToActivate":1,"timeout":60000,"requestTimeout":-1}`)
			var act struct{ Jobs []json.RawMessage }
			a.decode(t, &act)
			if len(act.Jobs) != 1 {
				t.Fatalf("activation %s", a.body)
			}
			j := members(t, act.Jobs[0])
			sameMembers(t, "activated job", j, tt.job)

			// Keys: int64 numbers in 8.6 and 8.7, strings from 8.8 on.
			for what, m := range map[string]map[string]json.RawMessage{"created": c, "job": j} {
				for name, raw := range m {
					if !strings.HasSuffix(name, "Key") {
						continue
					}
					isString := strings.HasPrefix(string(raw), `"`)
					if isString == tt.numberKeys {
						t.Errorf("%s %s = %s; want a number: %v", what, name, raw, tt.numberKeys)
					}
				}
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestAnswerValuesFromSpec(t *testing.T) {
	g := memGateway(t, camundatest.WithVersion(camundatest.V810), camundatest.WithProcess("order", "ship"))
	topo := send(t, g, "GET", "/v2/topology", "")
	for _, want := range []string{`"brokerId":"0"`, `"state":"active"`, `"clusterId":"`, `"lastCompletedChangeId":"-1"`, `"gatewayVersion":"8.10.0"`} {
		if !strings.Contains(string(topo.body), want) {
			t.Errorf("topology lacks %s: %s", want, topo.body)
		}
	}
	c := send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"order","tags":["vip"],"businessId":"order-42"}`)
	if !strings.Contains(string(c.body), `"tags":["vip"],"businessId":"order-42"`) {
		t.Errorf("created %s", c.body)
	}
	var inst struct{ ProcessInstanceKey string }
	c.decode(t, &inst)
	a := send(t, g, "POST", "/v2/jobs/activation", `{"type":"ship","maxJobsToActivate":1,"timeout":60000,"requestTimeout":-1,"withLease":true}`)
	var act struct {
		Jobs []struct {
			JobKey                 string
			Tags                   []string
			UserTask               *json.RawMessage
			RootProcessInstanceKey string
			BusinessID             *string `json:"businessId"`
			LeaseToken             *string
			PhysicalTenantID       string `json:"physicalTenantId"`
			Priority               *int
		}
	}
	a.decode(t, &act)
	if len(act.Jobs) != 1 {
		t.Fatalf("activation %s", a.body)
	}
	j := act.Jobs[0]
	if !slices.Equal(j.Tags, []string{"vip"}) || j.UserTask != nil || j.RootProcessInstanceKey != inst.ProcessInstanceKey ||
		j.BusinessID == nil || *j.BusinessID != "order-42" || j.LeaseToken == nil || *j.LeaseToken == "" ||
		j.PhysicalTenantID == "" || j.Priority == nil || *j.Priority != 0 {
		t.Errorf("job %s", a.body)
	}
	// The lease comes back on the job commands, which take it.
	body := `{"variables":{},"leaseToken":"` + *j.LeaseToken + `"}`
	if a := send(t, g, "POST", "/v2/jobs/"+j.JobKey+"/completion", body); a.status != http.StatusNoContent {
		t.Errorf("completion with a lease: %d %s", a.status, a.body)
	}
	// Without a lease asked for, none is given.
	send(t, g, "POST", "/v2/process-instances", `{"processDefinitionId":"order"}`)
	a = send(t, g, "POST", "/v2/jobs/activation", `{"type":"ship","maxJobsToActivate":1,"timeout":60000,"requestTimeout":-1}`)
	if !strings.Contains(string(a.body), `"businessId":null,"leaseToken":null`) {
		t.Errorf("job without lease or business id %s", a.body)
	}
}

// request sends a request with explicit headers through the gateway's
// in-memory transport.
func request(t *testing.T, g *camundatest.Gateway, path, body string, header http.Header) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://gateway.test"+path, strings.NewReader(body))
	if body == "" {
		req, _ = http.NewRequest("GET", "http://gateway.test"+path, nil)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := g.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, resp)
}

func TestKeysMediaTypes(t *testing.T) {
	const (
		stringKeys = "application/vnd.camunda.api.keys.string+json"
		numberKeys = "application/vnd.camunda.api.keys.number+json"
	)
	for _, tt := range []struct {
		v          camundatest.Version
		accept     string
		wantString bool
		wantType   string
	}{
		{camundatest.V86, "", false, "application/json"},
		{camundatest.V86, "*/*", false, "application/json"},
		{camundatest.V86, stringKeys, true, stringKeys},
		{camundatest.V86, "application/json, " + stringKeys, true, stringKeys},
		{camundatest.V86, stringKeys + ";q=0, application/json", false, "application/json"},
		{camundatest.V86, numberKeys, false, numberKeys},
		{camundatest.V87, stringKeys, true, stringKeys},
		{camundatest.V883, "", true, "application/json"},
		{camundatest.V883, stringKeys, true, stringKeys},
		{camundatest.V89, "application/json", true, "application/json"},
	} {
		g := memGateway(t, camundatest.WithVersion(tt.v))
		h := http.Header{"Content-Type": {"application/json"}}
		if tt.accept != "" {
			h.Set("Accept", tt.accept)
		}
		a := request(t, g, "/v2/process-instances", `{"processDefinitionId":"p"}`, h)
		if a.status != 200 || a.header.Get("Content-Type") != tt.wantType {
			t.Errorf("%v Accept %q: %d %q", tt.v, tt.accept, a.status, a.header.Get("Content-Type"))
		}
		isString := strings.Contains(string(a.body), `"processInstanceKey":"`)
		if isString != tt.wantString {
			t.Errorf("%v Accept %q: %s", tt.v, tt.accept, a.body)
		}
	}
}

func TestContentTypes(t *testing.T) {
	const body = `{"processDefinitionId":"p"}`
	for _, tt := range []struct {
		v      camundatest.Version
		ctype  string
		status int
	}{
		{camundatest.V883, "application/json", 200},
		{camundatest.V883, "application/json; charset=utf-8", 200},
		{camundatest.V883, "", 200}, // read as JSON: a documented leniency
		{camundatest.V883, "text/plain", 415},
		{camundatest.V883, "application/vnd.camunda.api.keys.string+json", 415},
		{camundatest.V86, "application/vnd.camunda.api.keys.string+json", 200},
		{camundatest.V86, "application/vnd.camunda.api.keys.number+json", 200},
		{camundatest.V86, "text/plain", 415},
		{camundatest.V89, "application/x-www-form-urlencoded", 415},
	} {
		g := memGateway(t, camundatest.WithVersion(tt.v))
		h := http.Header{}
		if tt.ctype != "" {
			h.Set("Content-Type", tt.ctype)
		}
		a := request(t, g, "/v2/process-instances", body, h)
		if a.status != tt.status {
			t.Errorf("%v %q: %d %s", tt.v, tt.ctype, a.status, a.body)
			continue
		}
		if tt.status == 415 {
			p := a.problem(t)
			if p.Title != "Unsupported Media Type" || p.Detail != "Content-Type '"+tt.ctype+"' is not supported." || p.Instance != "/v2/process-instances" {
				t.Errorf("%v %q: %s", tt.v, tt.ctype, a.body)
			}
			if s := g.Stats(); s.InstancesCreated != 0 {
				t.Errorf("a refused body created an instance")
			}
		}
	}
}

// TestBodiesPerVersion: 8.6 and 8.7 bind request bodies leniently, as
// Jackson's defaults do; from 8.8 on unknown fields and numbers for strings
// are refused. Every version reads a string holding an integer for an
// integer field, as Camunda's TypeScript client sends int64s in strict mode.
func TestBodiesPerVersion(t *testing.T) {
	for _, tt := range []struct {
		name, path, body string
		lenient, strict  int
	}{
		{"int64 as strings", "/v2/jobs/activation", `{"type":"p","maxJobsToActivate":"1","timeout":"60000","requestTimeout":"-1"}`, 200, 200},
		{"misspelt field", "/v2/jobs/activation", `{"type":"p","maxJobsToActivates":1,"timeout":1}`, 400, 400},
		{"unknown field", "/v2/jobs/activation", `{"type":"p","maxJobsToActivate":1,"timeout":1,"requestTimeout":-1,"color":"red"}`, 200, 400},
		{"number for a string", "/v2/jobs/activation", `{"type":12,"maxJobsToActivate":1,"timeout":1,"requestTimeout":-1}`, 200, 400},
		{"key as a number", "/v2/process-instances", `{"processDefinitionKey":2251799813685249}`, 200, 400},
		{"key as a string", "/v2/process-instances", `{"processDefinitionKey":"2251799813685249"}`, 200, 200},
		{"tags before 8.8", "/v2/process-instances", `{"processDefinitionId":"p","tags":["a"]}`, 200, 200},
		{"object for an integer", "/v2/jobs/activation", `{"type":"p","maxJobsToActivate":{},"timeout":1}`, 400, 400},
	} {
		for _, v := range []camundatest.Version{camundatest.V86, camundatest.V883} {
			g := memGateway(t, camundatest.WithVersion(v))
			createInstance(t, g, `{"processDefinitionId":"p"}`) // definition key 2251799813685249
			want := tt.strict
			if v == camundatest.V86 {
				want = tt.lenient
			}
			if a := send(t, g, "POST", tt.path, tt.body); a.status != want {
				t.Errorf("%s on %v: %d %s, want %d", tt.name, v, a.status, a.body, want)
			}
		}
	}
}
