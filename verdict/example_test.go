package verdict_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ebb-go/ebb/verdict"
)

// Camunda 8.8.0 to 8.8.2 answered a job activation refused for backpressure
// with a 500 whose detail names RESOURCE_EXHAUSTED: still backpressure.
func ExampleOf() {
	body := `{"type":"about:blank","title":"java.lang.RuntimeException","status":500,` +
		`"detail":"Unexpected error occurred during the request processing: Expected to activate jobs of type 'type', but no jobs available and at least one broker returned 'RESOURCE_EXHAUSTED'. Please try again later.",` +
		`"instance":"/zeebe/v2/jobs/activation"}`
	resp := &http.Response{
		StatusCode: 500,
		Header:     http.Header{"Content-Type": {"application/problem+json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
	}
	a := verdict.Of(nil, resp, nil)
	fmt.Println(a.Kind, a.Problem.Title)

	// The caller still reads every byte the server sent.
	rest, _ := io.ReadAll(resp.Body)
	fmt.Println(len(rest) == len(body))
	// Output:
	// backpressure java.lang.RuntimeException
	// true
}

// Routes are recognised behind any context path, keys collapsed.
func ExampleRouteOf() {
	r := verdict.RouteOf("/zeebe/v2/jobs/2251799813685249/completion")
	fmt.Println(r.Template, r.Safe(), r.Drain())
	// Output: /v2/jobs/{jobKey}/completion true true
}
