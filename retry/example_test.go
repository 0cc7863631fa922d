package retry_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ebb-go/ebb/retry"
)

// A create refused twice with Camunda's backpressure answer, then accepted:
// the retry layer sends it three times and hands the caller the 200.
func ExampleNew() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1) <= 2 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"type":"about:blank","title":"RESOURCE_EXHAUSTED","status":503}`)
			return
		}
		fmt.Printf("server: created %s\n", body)
	}))
	defer srv.Close()

	var attempts int
	rt := retry.New(http.DefaultTransport, retry.Policy{InitialInterval: 10 * time.Millisecond},
		retry.WithHooks(retry.Hooks{OnDone: func(e retry.Event) { attempts = e.Attempt }}))
	client := &http.Client{Transport: rt}
	resp, err := client.Post(srv.URL+"/v2/process-instances", "application/json",
		strings.NewReader(`{"processDefinitionId":"order"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "after", attempts, "attempts")
	// Output:
	// server: created {"processDefinitionId":"order"}
	// 200 after 3 attempts
}

// A request can ask for fewer attempts than the policy gives, or none.
func ExampleWithMaxAttempts() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	var attempts int
	client := &http.Client{Transport: retry.New(nil, retry.Policy{},
		retry.WithHooks(retry.Hooks{OnDone: func(e retry.Event) { attempts = e.Attempt }}))}

	req, _ := http.NewRequest("GET", srv.URL+"/v2/topology", nil)
	resp, err := client.Do(req.WithContext(retry.WithoutRetry(req.Context())))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "after", attempts, "attempt")
	// Output: 429 after 1 attempt
}
