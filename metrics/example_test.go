package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/ebb-go/ebb/metrics"
	"github.com/ebb-go/ebb/retry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The metrics are fed from the hooks of the layers; package transport
// wires them all with transport.WithMetrics.
func ExampleMetrics_RetryHooks() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	client := &http.Client{Transport: retry.New(nil, retry.Policy{}, retry.WithHooks(m.RetryHooks()))}
	for range 3 {
		resp, err := client.Get(srv.URL + "/v2/jobs/2251799813685249")
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
	}
	n, _ := testutil.GatherAndCount(reg, "ebb_requests_total")
	fmt.Println("series:", n)
	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP ebb_attempts_total Attempts sent to the server, by status code and verdict.
# TYPE ebb_attempts_total counter
ebb_attempts_total{code="200",host="`+srv.Listener.Addr().String()+`",method="GET",route="/v2/jobs/{jobKey}",verdict="success"} 3
`), "ebb_attempts_total")
	fmt.Println("attempts as expected:", err == nil)
	// Output:
	// series: 1
	// attempts as expected: true
}
