package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a bytes.Buffer safe to write from one goroutine and read from
// another once the writer is done.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
	var stdout, stderr syncBuffer
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
	for _, args := range [][]string{
		{"-nonsense"},
		{"-version", "7.20"},
		{"-slots", "-1"},
		{"-unavailable", "2"},
		{"-process", "no-type"},
		{"-context-path", "zeebe"},
		{"extra"},
	} {
		var stdout, stderr syncBuffer
		if c := cli(context.Background(), args, &stdout, &stderr, nil); c != 2 || stderr.String() == "" {
			t.Errorf("%q: exit %d, stderr %q", args, c, stderr.String())
		}
	}
}

func TestAddressTaken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	code := make(chan int)
	var out1 syncBuffer
	go func() {
		code <- cli(ctx, []string{"-addr", "127.0.0.1:0"}, &out1, &out1, func(url string) { urls <- url })
	}()
	addr := strings.TrimPrefix(<-urls, "http://")
	var stdout, stderr syncBuffer
	if c := cli(context.Background(), []string{"-addr", addr}, &stdout, &stderr, nil); c != 1 || !strings.Contains(stderr.String(), "gateway:") {
		t.Errorf("exit %d, stderr %q", c, stderr.String())
	}
	cancel()
	<-code
}
