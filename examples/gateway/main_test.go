package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ebb-go/ebb/camundatest"
	"github.com/ebb-go/ebb/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestServeAndReport(t *testing.T) {
	defer http.DefaultClient.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testkit.Output
	urls := make(chan string, 1)
	code := make(chan int)
	go func() {
		code <- cli(ctx, []string{
			"-addr", "127.0.0.1:0", "-version", "8.8.0", "-context-path", "/zeebe",
			"-slots", "1", "-rate", "1e-9", "-burst", "1", "-process", "order=ship",
		}, &stdout, &stderr, func(url string) { urls <- url })
	}()
	url := <-urls
	if !strings.HasSuffix(url, "/zeebe") {
		t.Errorf("URL %s lacks the context path", url)
	}
	if s, body := post(t, url+"/v2/process-instances", `{"processDefinitionId":"order"}`); s != 200 {
		t.Fatalf("create: %d %s", s, body)
	}
	// The rate allows one request: the activation is refused the 8.8.0 way.
	if s, body := post(t, url+"/v2/jobs/activation", `{"type":"ship","maxJobsToActivate":1,"timeout":1000}`); s != 500 ||
		!strings.Contains(body, "Expected to activate jobs of type 'ship'") {
		t.Errorf("activation: %d %s", s, body)
	}
	if s, _ := post(t, url+"/v2/jobs/2251799813685252/completion", ``); s != 204 {
		t.Errorf("completion: %d", s)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d: %s", c, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"emulated Camunda 8.8.0 gateway at " + url,
		"capacity: 1 at once, at most 1e-09 requests/s",
		"jobs created 1, activated 0, completed 1",
		"/v2/jobs/activation: requests 1, accepted 0, backpressure 1",
		"/v2/process-instances: requests 1, accepted 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-nonsense"}, "flag provided but not defined"},
		{[]string{"-version", "7.20"}, "releases before 8.6"},
		{[]string{"-version", "9.0"}, "newer than the newest release emulated, 8.10"},
		{[]string{"-slots", "-1"}, "Capacity.Slots"},
		{[]string{"-unavailable", "2"}, "Faults.Unavailable"},
		{[]string{"-process", "no-type"}, "want id=type"},
		{[]string{"-process", "order=a", "-process", "order=b"}, `process "order" given twice`},
		{[]string{"-context-path", "zeebe"}, "WithContextPath"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-burst", "5"}, "-burst: a token bucket needs -rate"},
		{[]string{"-exception-title"}, "-exception-title: only 8.6 and 8.7"},
		{[]string{"-exception-title", "-version", "8.9"}, "-version 8.9 answers RESOURCE_EXHAUSTED"},
		{[]string{"-report", "-1s"}, "-report -1s"},
		{[]string{"-unavailable", "0.1", "-fault-routes", "/v2/jobs/activation,/v2/jobs/complete"}, `"/v2/jobs/complete" is not a route of the gateway`},
		{[]string{"-fault-routes", "/v2/jobs/activation"}, "give -unavailable, -aborted or -deadline-exceeded"},
		{[]string{"-after-processing"}, "give -unavailable, -aborted or -deadline-exceeded"},
		{[]string{"-force", "/v2/jobs/{jobKey}/error"}, "want route=status[:n]"},
		{[]string{"-force", "/v2/jobs=500"}, `"/v2/jobs" is not a route of the gateway`},
		{[]string{"-force", "/v2/topology=404"}, "/v2/topology does not answer 404"},
		{[]string{"-force", "/v2/topology=500:0"}, "not a positive number"},
		{[]string{"-outage", "refuse"}, "want kind@after+length"},
		{[]string{"-outage", "crash@1s+1s"}, `kind "crash" is not refuse or reset`},
		{[]string{"-outage", "refuse@soon+1s"}, `"soon" is not a duration of 0 or more`},
		{[]string{"-outage", "reset@1s+0s"}, `"0s" is not a positive duration`},
	} {
		var stdout, stderr testkit.Output
		if c := cli(context.Background(), tt.args, &stdout, &stderr, nil); c != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", tt.args, c, stderr.String(), tt.want)
		}
		if stdout.String() != "" {
			t.Errorf("%q: printed %q", tt.args, stdout.String())
		}
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr testkit.Output
	if c := cli(context.Background(), []string{"-h"}, &stdout, &stderr, nil); c != 0 || !strings.Contains(stderr.String(), "about 100 requests/s") {
		t.Errorf("-h: exit %d, usage %q", c, stderr.String())
	}
}

// serve runs the program with args until the test ends and returns its
// URL and, once it has stopped, what it printed.
func serve(t *testing.T, args ...string) (url string, output func() string) {
	t.Helper()
	url, _, output = start(t, args...)
	return url, output
}

// start is serve that also gives the program's stdout to read while it
// runs.
func start(t *testing.T, args ...string) (url string, stdout *testkit.Output, output func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr testkit.Output
	stdout = &testkit.Output{}
	urls := make(chan string, 1)
	code := make(chan int, 1)
	go func() {
		code <- cli(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), stdout, &stderr, func(url string) { urls <- url })
	}()
	select {
	case url = <-urls:
	case c := <-code:
		t.Fatalf("exit %d: %s", c, stderr.String())
	}
	stopped := false
	stop := func() string {
		if !stopped {
			stopped = true
			cancel()
			if c := <-code; c != 0 {
				t.Errorf("exit %d: %s", c, stderr.String())
			}
			http.DefaultClient.CloseIdleConnections()
		}
		return stdout.String()
	}
	t.Cleanup(func() { stop() })
	return url, stdout, stop
}

// TestDefaultShowsBackpressure: started as the README starts it, the
// gateway refuses what exceeds its default capacity.
func TestDefaultShowsBackpressure(t *testing.T) {
	url, output := serve(t)
	refused := 0
	for round := 0; round < 50 && refused == 0; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 32 {
			wg.Go(func() {
				resp, err := http.Post(url+"/v2/process-instances", "application/json", strings.NewReader(`{"processDefinitionId":"order"}`))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable {
					mu.Lock()
					refused++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	out := output()
	if refused == 0 {
		t.Errorf("no backpressure from 32 concurrent requests in 50 rounds:\n%s", out)
	}
	for _, want := range []string{
		"capacity: 2 at once, 20ms service time (about 100 requests/s), beyond it requests are refused as backpressure",
		"answers: the 8.8 API: keys as strings, unknown request fields refused; backpressure 503 RESOURCE_EXHAUSTED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestVersionAnswers(t *testing.T) {
	url, output := serve(t, "-version", "8.6", "-slots", "0")
	status, body := post(t, url+"/v2/process-instances", `{"processDefinitionId":"order"}`)
	if status != 200 || !strings.Contains(body, `"processInstanceKey":2251799813685250`) {
		t.Errorf("8.6 create: %d %s", status, body)
	}
	out := output()
	for _, want := range []string{"emulated Camunda 8.6 gateway", "keys as JSON numbers", "backpressure 429 RESOURCE_EXHAUSTED", "capacity: unbounded, never pushes back"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestForceFlag(t *testing.T) {
	url, output := serve(t, "-force", "/v2/jobs/{jobKey}/error=500:1")
	for _, want := range []int{500, 404} {
		if status, body := post(t, url+"/v2/jobs/2251799813685252/error", `{"errorCode":"E"}`); status != want {
			t.Errorf("got %d %s, want %d", status, body, want)
		}
	}
	if out := output(); !strings.Contains(out, "forced: /v2/jobs/{jobKey}/error answers 500 to the next 1 requests") ||
		!strings.Contains(out, "forced 1") {
		t.Errorf("output:\n%s", out)
	}
}

func TestReporter(t *testing.T) {
	var r reporter
	if line := r.next(camundatest.RouteStats{}); line != "" {
		t.Errorf("idle at start: %q", line)
	}
	if line := r.next(camundatest.RouteStats{Requests: 3, Accepted: 2, Backpressure: 1}); line != "requests +3, accepted +2, refused +1" {
		t.Errorf("first change: %q", line)
	}
	if line := r.next(camundatest.RouteStats{Requests: 3, Accepted: 2, Backpressure: 1}); line != "" {
		t.Errorf("idle: %q", line)
	}
	if line := r.next(camundatest.RouteStats{Requests: 4, Accepted: 3, Backpressure: 1}); line != "requests +1, accepted +1, refused +0" {
		t.Errorf("second change: %q", line)
	}
}

func TestAddressTaken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	code := make(chan int)
	var out1 testkit.Output
	go func() {
		code <- cli(ctx, []string{"-addr", "127.0.0.1:0"}, &out1, &out1, func(url string) { urls <- url })
	}()
	addr := strings.TrimPrefix(<-urls, "http://")
	var stdout, stderr testkit.Output
	if c := cli(context.Background(), []string{"-addr", addr}, &stdout, &stderr, nil); c != 1 || !strings.Contains(stderr.String(), "gateway:") {
		t.Errorf("exit %d, stderr %q", c, stderr.String())
	}
	cancel()
	<-code
}

// TestOutageFlag: -outage refuses connections from its start to its end,
// and says when each came.
func TestOutageFlag(t *testing.T) {
	url, stdout, stop := start(t, "-outage", "refuse@100ms+300ms")
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	get := func() error {
		resp, err := (&http.Client{Transport: tr}).Get(url + "/v2/topology")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	waitFor(t, stdout, "outage refuse started")
	if err := get(); err == nil {
		t.Fatal("a connection was accepted during the outage")
	}
	waitFor(t, stdout, "outage refuse ended")
	if err := get(); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	stop() // fails the test unless the program exits 0
}

// waitFor waits, up to 10s of real time, for out to hold want.
func waitFor(t *testing.T, out *testkit.Output, want string) {
	t.Helper()
	for range 1000 {
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %q in %q", want, out.String())
}
