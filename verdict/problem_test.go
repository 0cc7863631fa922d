package verdict

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseProblem(t *testing.T) {
	p, err := ParseProblem([]byte(body883))
	if err != nil {
		t.Fatal(err)
	}
	want := Problem{Type: "about:blank", Title: "RESOURCE_EXHAUSTED", Status: 503,
		Detail: "Expected to handle request, but all retries have been exhausted", Instance: "/v2/process-instances"}
	if p.Type != want.Type || p.Title != want.Title || p.Status != want.Status || p.Detail != want.Detail || p.Instance != want.Instance || p.Extensions != nil {
		t.Fatalf("got %+v, want %+v", p, want)
	}

	p, err = ParseProblem([]byte(`{"title":"X","status":"503","detail":7,"traceId":"abc","errors":[1,2]}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "X" || p.Status != 0 || p.Detail != "" {
		t.Fatalf("members of the wrong type must be ignored: %+v", p)
	}
	if string(p.Extensions["traceId"]) != `"abc"` || string(p.Extensions["errors"]) != `[1,2]` || len(p.Extensions) != 2 {
		t.Fatalf("extensions = %v", p.Extensions)
	}

	for _, bad := range []string{"", "  ", "null", "[]", "\"x\"", "{", "<html>", `{"title":"x"}garbage`} {
		if _, err := ParseProblem([]byte(bad)); !errors.Is(err, ErrNotProblem) {
			t.Errorf("ParseProblem(%q) err = %v, want ErrNotProblem", bad, err)
		}
	}
}

func TestProblemJSONRoundTrip(t *testing.T) {
	in := Problem{Type: "about:blank", Title: "NOT_FOUND", Status: 404, Detail: "no job", Instance: "/v2/jobs/1/completion",
		Extensions: map[string]json.RawMessage{"traceId": json.RawMessage(`"t1"`), "title": json.RawMessage(`"shadowed"`)}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Problem
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if out.Title != "NOT_FOUND" || out.Status != 404 || out.Detail != "no job" || out.Instance != in.Instance || string(out.Extensions["traceId"]) != `"t1"` || len(out.Extensions) != 1 {
		t.Fatalf("round trip: %s -> %+v", data, out)
	}
}
