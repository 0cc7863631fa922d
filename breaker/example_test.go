package breaker_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ebb-go/ebb/breaker"
)

// unavailable is a gateway whose partitions are all unavailable.
type unavailable struct{ sent int }

func (u *unavailable) RoundTrip(req *http.Request) (*http.Response, error) {
	u.sent++
	return &http.Response{
		StatusCode: http.StatusServiceUnavailable,
		Header:     http.Header{"Content-Type": {"application/problem+json"}},
		Body:       io.NopCloser(strings.NewReader(`{"title":"UNAVAILABLE","status":503}`)),
		Request:    req,
	}, nil
}

func Example() {
	gw := &unavailable{}
	client := &http.Client{Transport: breaker.New(gw, breaker.Settings{},
		breaker.WithHooks(breaker.Hooks{
			OnStateChange: func(host string, from, to breaker.State) {
				fmt.Printf("%s: %v -> %v\n", host, from, to)
			},
		}))}
	post := func(path string) {
		resp, err := client.Post("http://camunda:8080"+path, "application/json", nil)
		if err != nil {
			fmt.Println("refused:", errors.Is(err, breaker.ErrOpen))
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}

	// The fifth failure in a row trips the breaker; the hook hears of it
	// before the fifth answer is handed back.
	for range 5 {
		post("/v2/jobs/activation")
	}
	// Open: nothing is sent...
	post("/v2/jobs/activation")
	// ...except the completion of a job the worker holds.
	post("/v2/jobs/2251799813685249/completion")
	fmt.Println("sent:", gw.sent)
	// Output:
	// 503
	// 503
	// 503
	// 503
	// camunda:8080: closed -> open
	// 503
	// refused: true
	// 503
	// sent: 6
}

func ExampleTransport_Stats() {
	tr := breaker.New(&unavailable{}, breaker.Settings{})
	client := &http.Client{Transport: tr}
	for range 3 {
		resp, err := client.Get("http://camunda:8080/v2/topology")
		if err == nil {
			resp.Body.Close()
		}
	}
	for _, s := range tr.Stats() {
		fmt.Printf("%s %v: %d of %d failed, %d in a row\n", s.Host, s.State, s.Failures, s.Requests, s.ConsecutiveFailures)
	}
	// Output:
	// camunda:8080 closed: 3 of 3 failed, 3 in a row
}
