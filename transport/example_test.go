package transport_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ebb-go/ebb/retry"
	"github.com/ebb-go/ebb/transport"
)

// A cluster that pushes back twice before accepting: the client sees only
// the success.
func Example() {
	var calls atomic.Int32
	cluster := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503}`)
			return
		}
		io.WriteString(w, `{"processInstanceKey":"2251799813685249"}`)
	}))
	defer cluster.Close()

	client := transport.NewClient(transport.WithRetry(retry.Policy{InitialInterval: 10 * time.Millisecond}))
	resp, err := client.Post(cluster.URL+"/v2/process-instances", "application/json",
		strings.NewReader(`{"processDefinitionId":"order-process"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "attempts")
	// Output: 200 {"processInstanceKey":"2251799813685249"} after 3 attempts
}

// Reading the settings from the environment of a worker process.
func ExampleFromEnv() {
	opts, err := transport.FromEnv()
	if err != nil {
		fmt.Println("bad configuration:", err)
		return
	}
	client := transport.NewClient(opts...)
	fmt.Println(client.Transport != nil)
	// Output: true
}
