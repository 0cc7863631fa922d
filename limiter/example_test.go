package limiter_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ebb-go/ebb/limiter"
)

// A gateway pushing back teaches the limiter its limit; the hooks report
// it, here to the console, in a program to package metrics.
func Example() {
	gateway := roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: http.StatusServiceUnavailable,
			Header:     http.Header{"Content-Type": {"application/problem+json"}},
			Body:       io.NopCloser(strings.NewReader(`{"title":"RESOURCE_EXHAUSTED","status":503}`)),
			Request:    req,
		}, nil
	})
	client := &http.Client{Transport: limiter.New(gateway, limiter.Settings{
		Initial: 8,
		Hooks: limiter.Hooks{OnLimit: func(host string, limit int) {
			if limit == limiter.Unlimited {
				fmt.Println(host, "unlimited")
				return
			}
			fmt.Println(host, "limit", limit)
		}},
	})}

	for range 2 {
		resp, err := client.Post("http://camunda.example:8080/v2/process-instances", "application/json", strings.NewReader("{}"))
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// The first refusal sets the limit (to Initial); the second came with
	// nothing else in flight, so the host accepts nothing more: the limit
	// falls to its floor.

	// Output:
	// camunda.example:8080 unlimited
	// camunda.example:8080 limit 8
	// 503
	// camunda.example:8080 limit 1
	// 503
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
