package camundatest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ebb-go/ebb/camundatest"
	"github.com/ebb-go/ebb/verdict"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memGateway builds a gateway served in memory, closed when the test ends.
func memGateway(t testing.TB, opts ...camundatest.Option) *camundatest.Gateway {
	t.Helper()
	g, err := camundatest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// netGateway builds a gateway on a loopback port, closed when the test ends.
func netGateway(t testing.TB, opts ...camundatest.Option) *camundatest.Gateway {
	t.Helper()
	g := camundatest.NewGateway(opts...)
	t.Cleanup(g.Close)
	return g
}

// answer is a response read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) problem(t testing.TB) verdict.Problem {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (status %d, body %s)", ct, a.status, a.body)
	}
	p, err := verdict.ParseProblem(a.body)
	if err != nil {
		t.Fatalf("problem body %s: %v", a.body, err)
	}
	if p.Status != a.status {
		t.Errorf("problem status %d, response status %d", p.Status, a.status)
	}
	return p
}

func (a answer) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("body %s: %v", a.body, err)
	}
}

// send makes a request with the gateway's client and reads the answer.
func send(t testing.TB, g *camundatest.Gateway, method, path, body string) answer {
	t.Helper()
	a, err := sendCtx(context.Background(), g, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

func sendCtx(ctx context.Context, g *camundatest.Gateway, method, path, body string) (answer, error) {
	base := g.URL()
	if base == "" {
		base = "http://gateway.test"
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.Client().Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// commandBody is a valid body for the job command on route cmd
// (completion, failure or error).
func commandBody(cmd string) string {
	switch cmd {
	case "failure":
		return `{"retries":1,"errorMessage":"boom"}`
	case "error":
		return `{"errorCode":"E"}`
	}
	return `{"variables":{}}`
}

type created struct {
	ProcessDefinitionID      string         `json:"processDefinitionId"`
	ProcessDefinitionKey     string         `json:"processDefinitionKey"`
	ProcessDefinitionVersion int            `json:"processDefinitionVersion"`
	ProcessInstanceKey       string         `json:"processInstanceKey"`
	TenantID                 string         `json:"tenantId"`
	Variables                map[string]any `json:"variables"`
}

// UnmarshalJSON reads keys written as JSON strings (8.8 and later) or as
// numbers (8.6, 8.7) alike.
func (c *created) UnmarshalJSON(data []byte) error {
	type plain created
	var v struct {
		plain
		ProcessDefinitionKey json.Number `json:"processDefinitionKey"`
		ProcessInstanceKey   json.Number `json:"processInstanceKey"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*c = created(v.plain)
	c.ProcessDefinitionKey, c.ProcessInstanceKey = v.ProcessDefinitionKey.String(), v.ProcessInstanceKey.String()
	return nil
}

// createInstance starts an instance of process and returns what the gateway
// answered.
func createInstance(t testing.TB, g *camundatest.Gateway, body string) created {
	t.Helper()
	a := send(t, g, "POST", "/v2/process-instances", body)
	if a.status != http.StatusOK {
		t.Fatalf("create instance: %d %s", a.status, a.body)
	}
	var c created
	a.decode(t, &c)
	return c
}

type activatedJob struct {
	JobKey                   string            `json:"jobKey"`
	Type                     string            `json:"type"`
	ProcessInstanceKey       string            `json:"processInstanceKey"`
	ProcessDefinitionID      string            `json:"processDefinitionId"`
	ProcessDefinitionVersion int               `json:"processDefinitionVersion"`
	ProcessDefinitionKey     string            `json:"processDefinitionKey"`
	ElementID                string            `json:"elementId"`
	ElementInstanceKey       string            `json:"elementInstanceKey"`
	CustomHeaders            map[string]string `json:"customHeaders"`
	Worker                   string            `json:"worker"`
	Retries                  int               `json:"retries"`
	Deadline                 int64             `json:"deadline"`
	Variables                map[string]any    `json:"variables"`
	TenantID                 string            `json:"tenantId"`
}

// UnmarshalJSON reads keys written as JSON strings or numbers alike.
func (j *activatedJob) UnmarshalJSON(data []byte) error {
	type plain activatedJob
	var v struct {
		plain
		JobKey               json.Number `json:"jobKey"`
		ProcessInstanceKey   json.Number `json:"processInstanceKey"`
		ProcessDefinitionKey json.Number `json:"processDefinitionKey"`
		ElementInstanceKey   json.Number `json:"elementInstanceKey"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*j = activatedJob(v.plain)
	j.JobKey, j.ProcessInstanceKey = v.JobKey.String(), v.ProcessInstanceKey.String()
	j.ProcessDefinitionKey, j.ElementInstanceKey = v.ProcessDefinitionKey.String(), v.ElementInstanceKey.String()
	return nil
}

// activate asks for jobs and returns those the gateway activated.
func activate(t testing.TB, g *camundatest.Gateway, body string) []activatedJob {
	t.Helper()
	a := send(t, g, "POST", "/v2/jobs/activation", body)
	if a.status != http.StatusOK {
		t.Fatalf("activate: %d %s", a.status, a.body)
	}
	var r struct {
		Jobs []activatedJob `json:"jobs"`
	}
	a.decode(t, &r)
	if r.Jobs == nil {
		t.Fatalf("activate: no jobs array in %s", a.body)
	}
	return r.Jobs
}

// activateNow asks for up to max jobs of type typ without waiting.
func activateNow(t testing.TB, g *camundatest.Gateway, typ string, max int) []activatedJob {
	t.Helper()
	return activate(t, g, `{"type":"`+typ+`","maxJobsToActivate":`+itoa(max)+`,"timeout":60000,"requestTimeout":-1,"worker":"w"}`)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// withBody gives req a replayable JSON body.
func withBody(req *http.Request, body string) *http.Request {
	if body == "" {
		return req
	}
	req.Body = io.NopCloser(strings.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// readAnswer reads and closes resp.
func readAnswer(t testing.TB, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

// newRequest builds a request to the gateway's in-memory transport.
func newRequest(method, path string) *http.Request {
	req, err := http.NewRequest(method, "http://gateway.test"+path, nil)
	if err != nil {
		panic(err)
	}
	return req
}
