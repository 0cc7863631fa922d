package limiter_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ebb-go/ebb/limiter"
)

// roundTripperFunc adapts a function to http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A gateway pushing back teaches the limiter its limit, which Stats
// reports, here to the console, in a program to package metrics.
func Example() {
	gateway := roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: http.StatusServiceUnavailable,
			Header:     http.Header{"Content-Type": {"application/problem+json"}},
			Body:       io.NopCloser(strings.NewReader(`{"title":"RESOURCE_EXHAUSTED","status":503}`)),
			Request:    req,
		}, nil
	})
	lt := limiter.New(gateway, limiter.Settings{Initial: 8})
	client := &http.Client{Transport: lt}

	for range 2 {
		resp, err := client.Post("http://camunda.example:8080/v2/process-instances", "application/json", strings.NewReader("{}"))
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		s := lt.Stats()[0]
		fmt.Println(resp.StatusCode, s.Host, "limit", s.Limit)
	}
	// The first refusal sets the limit (to Initial); the second came with
	// nothing else in flight, so the host accepts nothing more: the limit
	// falls to its floor.

	// Output:
	// 503 camunda.example:8080 limit 8
	// 503 camunda.example:8080 limit 1
}

// ParseProfile reads the EBB_ and the Camunda SDK spellings alike.
func ExampleParseProfile() {
	for _, s := range []string{"balanced", "LEGACY", "Conservative", "fast"} {
		p, err := limiter.ParseProfile(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(p)
	}
	// Output:
	// balanced
	// observe
	// conservative
	// limiter: unknown profile "fast" (want balanced, conservative, aggressive, observe or off)
}
