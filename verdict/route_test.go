package verdict

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"unsafe"
)

func TestRouteOf(t *testing.T) {
	tests := []struct {
		give  string
		want  string
		safe  bool
		drain bool
	}{
		{"/v2/jobs/activation", "/v2/jobs/activation", true, false},
		{"/v2/jobs/2251799813685249/completion", "/v2/jobs/{jobKey}/completion", true, true},
		{"/v2/jobs/2251799813685249/failure", "/v2/jobs/{jobKey}/failure", true, true},
		{"/v2/jobs/2251799813685249/error", "/v2/jobs/{jobKey}/error", false, true},
		{"/zeebe/v2/jobs/2251799813685249/completion", "/v2/jobs/{jobKey}/completion", true, true},
		{"/a/b/c/v2/jobs/1/completion/", "/v2/jobs/{jobKey}/completion", true, true},
		{"/v2//jobs//1//completion", "/v2/jobs/{jobKey}/completion", true, true},
		{"/v2/user-tasks/42/completion", "/v2/user-tasks/{userTaskKey}/completion", false, true},
		{"/v2/user-tasks/42/assignment", "/v2/user-tasks/{userTaskKey}/assignment", false, false},
		{"/v2/process-instances", "/v2/process-instances", false, false},
		{"/v2/process-instances/search", "/v2/process-instances/search", true, false},
		{"/v2/process-instances/7/cancellation", "/v2/process-instances/{processInstanceKey}/cancellation", true, false},
		{"/v2/process-instances/7/migration", "/v2/process-instances/{processInstanceKey}/migration", true, false},
		{"/v2/process-instances/7/modification", "/v2/process-instances/{processInstanceKey}/modification", false, false},
		{"/v2/incidents/9/resolution", "/v2/incidents/{incidentKey}/resolution", true, false},
		{"/v2/resources/9/deletion", "/v2/resources/{resourceKey}/deletion", true, false},
		{"/v2/decision-definitions/evaluation", "/v2/decision-definitions/evaluation", true, false},
		{"/v2/topology", "/v2/topology", true, false},
		{"/v2/messages/publication", "/v2/messages/publication", false, false},
		{"/v2/users/demo", "/v2/users/{username}", false, false},
		{"/v2/tenants/acme", "/v2/tenants/{tenantId}", false, false},
		{"/v2/documents/3fa85f64-5717-4562-b3fc-2c963f66afa6", "/v2/documents/{documentId}", false, false},
		{"/v2/process-instances/7/incidents/search", "/v2/process-instances/{processInstanceKey}/incidents/search", true, false},
		// A search the table does not know is still safe; its template is generic.
		{"/v2/brand-new-things/search", "", true, false},
		{"/api/orders/123", "", false, false},
		{"/", "", false, false},
		{"", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			r := RouteOf(tt.give)
			if r.Template != tt.want || r.Safe() != tt.safe || r.Drain() != tt.drain {
				t.Fatalf("RouteOf(%q) = %q safe=%v drain=%v; want %q safe=%v drain=%v",
					tt.give, r.Template, r.Safe(), r.Drain(), tt.want, tt.safe, tt.drain)
			}
		})
	}
}

func TestRouteOfCamundaDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		RouteOf("/zeebe/v2/jobs/2251799813685249/completion")
		RouteOf("/v2/users/demo")
	})
	if allocs != 0 {
		t.Fatalf("RouteOf allocates %v times", allocs)
	}
}

func TestRoutesGeneric(t *testing.T) {
	var rs Routes
	tests := []struct{ give, want string }{
		{"/api/orders/123", "/api/orders/{id}"},
		{"/api/orders/123/items/9", "/api/orders/{id}/items/{id}"},
		{"/api/users/alice@example.com", "/api/users/{id}"},
		{"/api/blobs/3fa85f64-5717-4562-b3fc-2c963f66afa6", "/api/blobs/{id}"},
		{"/api/blobs/deadbeefdeadbeef", "/api/blobs/{id}"},
		{"/api/v1/health", "/api/v1/health"},
		{"/", "/"},
		{"", "/"},
		{"/v2/jobs/5/completion", "/v2/jobs/{jobKey}/completion"},
		{"/v2/brand-new-things/search", "/v2/brand-new-things/search"},
		{strings.Repeat("/ab", 100), Other},
	}
	for _, tt := range tests {
		if got := rs.Of(tt.give).Template; got != tt.want {
			t.Errorf("Of(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
	if !rs.Of("/v2/brand-new-things/search").Safe() {
		t.Error("unknown search route lost its safe flag")
	}
	allocs := testing.AllocsPerRun(100, func() { rs.Of("/api/orders/987654") })
	if allocs != 0 {
		t.Fatalf("a known generic template allocates %v times", allocs)
	}
}

func TestRoutesBounded(t *testing.T) {
	rs := Routes{Max: 10}
	for i := range 9 {
		if tpl := rs.Of(fmt.Sprintf("/api/thing%c", 'a'+i)).Template; tpl == Other {
			t.Fatalf("path %d templated %q", i, tpl)
		}
	}
	// Camunda templates count too: the tenth distinct template is the
	// completion, the eleventh reads other.
	if got := rs.Of("/v2/jobs/1/completion").Template; got != "/v2/jobs/{jobKey}/completion" {
		t.Fatalf("completion = %q", got)
	}
	if got := rs.Of("/v2/jobs/1/failure"); got.Template != Other || !got.Drain() {
		t.Fatalf("failure beyond the bound = %+v, want other, still a drain", got)
	}
	for i := range 40 {
		if tpl := rs.Of(fmt.Sprintf("/api/other%c%c", 'a'+i%26, 'a'+i/26)).Template; tpl != Other {
			t.Fatalf("path %d beyond the bound templated %q", i, tpl)
		}
	}
	if rs.Len() != 10 {
		t.Fatalf("Len = %d", rs.Len())
	}
}

// Admit counts templates a caller already has against the same bound as
// Of, and returns the one stored, so that equal templates share memory.
func TestRoutesAdmit(t *testing.T) {
	rs := Routes{Max: 2}
	a := rs.Admit(string([]byte("/v2/jobs/{jobKey}/completion")))
	if a != "/v2/jobs/{jobKey}/completion" {
		t.Fatalf("Admit = %q", a)
	}
	if again := rs.Admit(string([]byte("/v2/jobs/{jobKey}/completion"))); unsafe.StringData(again) != unsafe.StringData(a) {
		t.Error("a template admitted twice is not the one stored")
	}
	if got := rs.Of("/v2/topology").Template; got != "/v2/topology" {
		t.Fatalf("second template = %q", got)
	}
	if got := rs.Admit("/v2/incidents/search"); got != Other {
		t.Errorf("a third template = %q, want %q beyond a bound of 2", got, Other)
	}
	if got := rs.Admit(Other); got != Other || rs.Len() != 2 {
		t.Errorf("Admit(Other) = %q with %d templates, want other and 2", got, rs.Len())
	}
	if got := rs.Admit("/v2/topology"); got != "/v2/topology" {
		t.Errorf("a template already counted = %q, want itself", got)
	}
}

func TestSafeToRepeat(t *testing.T) {
	tests := []struct {
		method, path string
		header       string
		want         bool
	}{
		{"GET", "/anything", "", true},
		{"HEAD", "/anything", "", true},
		{"OPTIONS", "/anything", "", true},
		{"PUT", "/anything", "", true},
		{"DELETE", "/anything", "", true},
		{"POST", "/anything", "", false},
		{"PATCH", "/anything", "", false},
		{"POST", "/anything", "Idempotency-Key", true},
		{"POST", "/anything", "X-Idempotency-Key", true},
		{"POST", "/v2/process-instances", "", false},
		{"POST", "/v2/messages/publication", "", false},
		{"POST", "/v2/jobs/activation", "", true},
		{"POST", "/v2/jobs/1/completion", "", true},
		{"POST", "/v2/jobs/1/failure", "", true},
		{"POST", "/v2/jobs/1/error", "", false},
		{"POST", "/v2/process-instances/1/cancellation", "", true},
		{"POST", "/v2/incidents/1/resolution", "", true},
		{"POST", "/v2/variables/search", "", true},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, "http://h"+tt.path, nil)
		if tt.header != "" {
			req.Header.Set(tt.header, "k1")
		}
		if got := SafeToRepeat(req); got != tt.want {
			t.Errorf("%s %s %s: SafeToRepeat = %v, want %v", tt.method, tt.path, tt.header, got, tt.want)
		}
	}
}

func TestIDLike(t *testing.T) {
	for _, s := range []string{"1", "2251799813685249", "a1b2c3d4", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "deadbeefcafebabe", "x@y", "abc=", "a%20b", string(make([]byte, 41))} {
		if !idLike(s) {
			t.Errorf("idLike(%q) = false", s)
		}
	}
	for _, s := range []string{"", "v2", "jobs", "completion", "process-instances", "v1", "abc12", "deadbeef"} {
		if idLike(s) {
			t.Errorf("idLike(%q) = true", s)
		}
	}
}

func TestDrains(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{"/v2/jobs/2251799813685249/completion", true},
		{"/zeebe/v2/jobs/2251799813685249/failure/", true},
		{"/v2/jobs/2251799813685249/error", true},
		{"/v2/user-tasks/2251799813685249/completion", true},
		{"/v2/process-instances/2251799813685249/cancellation", false},
		{"/v2/jobs/activation", false},
		{"/api/orders/1/completion", false},
		{"/v2/process-instances", false},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("POST", "http://gw:8080"+tt.give, nil)
		if got := Drains(req); got != tt.want {
			t.Errorf("Drains(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
	if Drains(&http.Request{}) {
		t.Error("a request without a URL drains")
	}
}

// TestLetterTokensTemplated: random tokens made of letters only (a base62
// token without a digit) must not become label values one by one.
func TestLetterTokensTemplated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var rs Routes
	seen := map[string]bool{}
	for range 10000 {
		n := 12 + rng.IntN(21) // 12 to 32 letters
		tok := make([]byte, n)
		for i := range tok {
			tok[i] = letters[rng.IntN(len(letters))]
		}
		if rng.IntN(4) == 0 { // some all lower case, long
			tok = []byte(strings.ToLower(string(tok)) + "abcdefghijklmnopq")
		}
		seen[rs.Of("/api/sessions/"+string(tok)).Template] = true
	}
	if len(seen) != 1 || !seen["/api/sessions/{id}"] {
		t.Fatalf("10,000 letter tokens gave %d templates: %v", len(seen), keys(seen))
	}
	for _, word := range []string{"orders", "ad-hoc-activities", "search", "Users", "v2", "authentication"} {
		if idLike(word) {
			t.Errorf("the API word %q is taken for an ID", word)
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
		if len(out) == 5 {
			break
		}
	}
	return out
}

func TestActivation(t *testing.T) {
	for _, tt := range []struct {
		method, path string
		want         bool
	}{
		{"POST", "/v2/jobs/activation", true},
		{"POST", "/v2/jobs/activation/", true},
		{"POST", "/zeebe/v2/jobs/activation", true},
		{"GET", "/v2/jobs/activation", false},
		{"POST", "/v2/jobs/activation/extra", false},
		{"POST", "/v2/process-instances", false},
		{"POST", "/api/jobs/activation", false},
		{"POST", "/", false},
	} {
		req, _ := http.NewRequest(tt.method, "http://gw:8080"+tt.path, nil)
		if got := Activation(req); got != tt.want {
			t.Errorf("Activation(%s %s) = %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
	if Activation(&http.Request{Method: "POST"}) {
		t.Error("a request without a URL is an activation")
	}
}
