package camundatest_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ebb-go/ebb/camundatest"
	"github.com/ebb-go/ebb/verdict"
)

// TestForceEveryDocumentedAnswer drives every route through every error
// answer its spec documents, 500 on throwing a job error included.
func TestForceEveryDocumentedAnswer(t *testing.T) {
	for _, v := range []camundatest.Version{camundatest.V86, camundatest.V883, camundatest.V89} {
		for _, route := range camundatest.Routes() {
			for _, status := range camundatest.ForcibleStatuses(route) {
				t.Run(v.String()+" "+route+" "+strconv.Itoa(status), func(t *testing.T) {
					g := memGateway(t, camundatest.WithVersion(v))
					// A job with key 2251799813685252, activated: served,
					// its commands succeed.
					createInstance(t, g, `{"processDefinitionId":"p"}`)
					activateNow(t, g, "p", 1)
					method, path, body := "POST", strings.Replace(route, "{jobKey}", "2251799813685252", 1), ""
					switch route {
					case "/v2/topology":
						method = "GET"
					case "/v2/process-instances":
						body = `{"processDefinitionId":"p"}`
					case "/v2/jobs/activation":
						body = `{"type":"p","maxJobsToActivate":1,"timeout":1,"requestTimeout":-1}`
					default:
						body = commandBody(path[strings.LastIndex(path, "/")+1:])
					}
					if err := g.Force(route, status, 1); err != nil {
						t.Fatal(err)
					}
					a := send(t, g, method, path, body)
					p := a.problem(t)
					if a.status != status || p.Title == "" || p.Detail == "" || p.Type != "about:blank" || p.Instance != path {
						t.Fatalf("got %d %s", a.status, a.body)
					}
					// Forced once: the next request is served.
					if route == "/v2/jobs/{jobKey}/failure" {
						body = `{"retries":1,"retryBackOff":0}`
					}
					if a := send(t, g, method, path, body); a.status >= 300 {
						t.Errorf("still forced: %d %s", a.status, a.body)
					}
					if s := g.Stats().Routes[route]; s.Forced != 1 || s.Rejected() < 1 {
						t.Errorf("stats %+v", s)
					}
				})
			}
		}
	}
}

func TestForceShapes(t *testing.T) {
	g := memGateway(t)
	const path = "/v2/jobs/2251799813685252/error"
	for _, tt := range []struct {
		status        int
		title, detail string
		kind          verdict.Kind
	}{
		{500, "java.lang.IllegalStateException", "Unexpected error occurred during the request processing: ", verdict.ServerError},
		{503, "RESOURCE_EXHAUSTED", "Expected to handle request, but all retries have been exhausted", verdict.Backpressure},
		{429, "RESOURCE_EXHAUSTED", "Reached maximum capacity of requests handled", verdict.Backpressure},
		{404, "NOT_FOUND", "Command 'THROW_ERROR' rejected with code 'NOT_FOUND': Expected to throw an error for job with key '2251799813685252', but no such job was found", verdict.ClientError},
		{409, "INVALID_STATE", "Command 'THROW_ERROR' rejected with code 'INVALID_STATE': ", verdict.ClientError},
		{400, "INVALID_ARGUMENT", "Command 'THROW_ERROR' rejected with code 'INVALID_ARGUMENT': ", verdict.ClientError},
	} {
		if err := g.Force("/v2/jobs/{jobKey}/error", tt.status, -1); err != nil {
			t.Fatal(err)
		}
		for range 2 { // until Unforce
			req := withBody(newRequest("POST", path), `{"errorCode":"E"}`)
			resp, err := g.Transport().RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			kind := verdict.Of(req, resp, nil).Kind
			a := readAnswer(t, resp)
			p := a.problem(t)
			if a.status != tt.status || p.Title != tt.title || !strings.HasPrefix(p.Detail, tt.detail) || kind != tt.kind {
				t.Errorf("%d: %s (verdict %v)", tt.status, a.body, kind)
			}
		}
	}
	g.Unforce("")
	if a := send(t, g, "POST", path, `{"errorCode":"E"}`); a.status != 404 {
		t.Errorf("after Unforce: %d %s", a.status, a.body)
	}
	// A body that does not validate is answered as ever.
	g.Force("/v2/jobs/{jobKey}/error", 500, -1)
	if a := send(t, g, "POST", path, `{}`); a.status != 400 {
		t.Errorf("invalid body under a forced answer: %d %s", a.status, a.body)
	}
	if err := g.Force("/v2/jobs/{jobKey}/error", 0, 0); err == nil {
		t.Error("Force with status 0 accepted")
	}
	g.Force("/v2/jobs/{jobKey}/error", 500, 0) // n == 0: Unforce
	if a := send(t, g, "POST", path, `{"errorCode":"E"}`); a.status != 404 {
		t.Errorf("after Force(..., 0): %d %s", a.status, a.body)
	}
}

func TestForceErrors(t *testing.T) {
	g := memGateway(t)
	for _, tt := range []struct {
		route  string
		status int
		want   string
	}{
		{"/v2/jobs/{jobKey}/complete", 500, `unknown route "/v2/jobs/{jobKey}/complete"`},
		{"/v2/topology", 404, "/v2/topology does not answer 404; it documents 401, 500"},
		{"/v2/process-instances", 401, "does not answer 401"},
	} {
		err := g.Force(tt.route, tt.status, 1)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Force(%q, %d): %v", tt.route, tt.status, err)
		}
	}
	if _, err := camundatest.New(camundatest.WithFaults(camundatest.Faults{Unavailable: 0.1, Routes: []string{"/v2/jobs"}})); err == nil ||
		!strings.Contains(err.Error(), `unknown route "/v2/jobs"`) {
		t.Errorf("Faults.Routes naming no route: %v", err)
	}
}
