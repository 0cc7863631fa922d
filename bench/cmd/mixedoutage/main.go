// Command mixedoutage measures, over real loopback with Camunda's emulated
// gateway in a process of its own, how soon a worker that creates process
// instances and polls for jobs through one ebb client is back after an
// outage: the time from the end of the outage until its creations reach
// 90% of their rate before it, in 100ms steps.
//
// The dynamics harness's slot server does not serve job activations, so
// this runs examples/gateway instead (its -outage flag), which does: its
// activations are long polls, parked while there is no job. The worker has
// -creators goroutines creating instances of a process whose jobs are of
// type "work", -pollers goroutines activating such jobs one at a time and
// completing them, and -idle-pollers activating jobs of a type nobody
// creates (a worker's handlers for job types without work, whose long
// polls the gateway parks for their whole requestTimeout), each pausing
// 100ms after a failure, with ebb's defaults (transport.NewClient).
//
//	cd bench && go run ./cmd/mixedoutage -reps 3 -outages refuse@5s+5s,refuse@5s+15s,reset@5s+5s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebb-go/ebb/transport"
)

const step = 100 * time.Millisecond

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mixedoutage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		gateway  = fs.String("gateway", "", "the gateway program; empty: build github.com/ebb-go/ebb/examples/gateway")
		reps     = fs.Int("reps", 3, "repetitions of each outage")
		outages  = fs.String("outages", "refuse@5s+5s,refuse@5s+15s,reset@5s+5s", "outages, comma-separated, as the gateway's -outage takes them")
		creators = fs.Int("creators", 64, "goroutines creating process instances")
		pollers  = fs.Int("pollers", 8, "goroutines activating and completing jobs")
		idle     = fs.Int("idle-pollers", 4, "goroutines activating jobs of a type no process has, as a worker's handlers for idle job types do")
		slots    = fs.Int("slots", 8, "the gateway's slots")
		service  = fs.Duration("service", 10*time.Millisecond, "the gateway's service time")
		after    = fs.Duration("after", 4*time.Second, "how long the worker runs on after the outage ends")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *gateway == "" {
		dir, err := os.MkdirTemp("", "mixedoutage")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		*gateway = filepath.Join(dir, "gateway")
		build := exec.Command("go", "build", "-o", *gateway, "github.com/ebb-go/ebb/examples/gateway")
		build.Stderr = stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(stderr, "mixedoutage: build the gateway: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "| outage | creations/s before | back to 90%% after the outage ends |\n|---|--:|---|\n")
	for o := range strings.SplitSeq(*outages, ",") {
		var backs []time.Duration
		var before float64
		for range *reps {
			r, err := once(*gateway, o, *creators, *pollers, *idle, *slots, *service, *after)
			if err != nil {
				fmt.Fprintf(stderr, "mixedoutage: %s: %v\n", o, err)
				return 1
			}
			before += r.before / float64(*reps)
			backs = append(backs, r.back)
		}
		fmt.Fprintf(stdout, "| %s | %.0f | %s |\n", o, before, describe(backs))
	}
	return 0
}

// result is one run's: the creations' rate before the outage, and the time
// from its end until they were back to 90% of it (-1: not within the run).
type result struct {
	before float64
	back   time.Duration
}

// describe gives the median and range of the runs' times, sorted.
func describe(backs []time.Duration) string {
	s := append([]time.Duration(nil), backs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var parts []string
	for _, b := range s {
		if b < 0 {
			parts = append(parts, "not back")
		} else {
			parts = append(parts, fmt.Sprintf("%.1fs", b.Seconds()))
		}
	}
	return strings.Join(parts, ", ")
}

// once runs the gateway with the outage o and the worker against it.
func once(gateway, o string, creators, pollers, idle, slots int, service, after time.Duration) (result, error) {
	cmd := exec.Command(gateway, "-addr", "127.0.0.1:0", "-slots", fmt.Sprint(slots), "-service-time", service.String(),
		"-process", "order=work", "-outage", o)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	lines := bufio.NewScanner(out)
	var url string
	for url == "" && lines.Scan() {
		url = urlOf(lines.Text())
	}
	if url == "" {
		return result{}, errors.New("the gateway printed no URL")
	}
	start := time.Now()
	var startAt, endAt atomic.Int64 // since start, when the gateway said so
	go func() {
		for lines.Scan() {
			switch l := lines.Text(); {
			case strings.Contains(l, "started"):
				startAt.Store(int64(time.Since(start)))
			case strings.Contains(l, "ended"):
				endAt.Store(int64(time.Since(start)))
			}
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := transport.NewClient()
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var steps []int64
	created := func() {
		i := int(time.Since(start) / step)
		mu.Lock()
		for len(steps) <= i {
			steps = append(steps, 0)
		}
		steps[i]++
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range creators {
		wg.Go(func() {
			for ctx.Err() == nil {
				if post(ctx, client, url+"/v2/process-instances", `{"processDefinitionId":"order"}`, nil) {
					created()
				} else {
					pause(ctx)
				}
			}
		})
	}
	for range pollers {
		wg.Go(func() {
			for ctx.Err() == nil {
				var jobs struct {
					Jobs []struct {
						JobKey string `json:"jobKey"`
					} `json:"jobs"`
				}
				if !post(ctx, client, url+"/v2/jobs/activation", `{"type":"work","maxJobsToActivate":1,"requestTimeout":10000,"timeout":60000}`, &jobs) {
					pause(ctx)
					continue
				}
				for _, j := range jobs.Jobs {
					post(ctx, client, url+"/v2/jobs/"+j.JobKey+"/completion", `{}`, nil)
				}
			}
		})
	}
	for range idle {
		wg.Go(func() {
			for ctx.Err() == nil {
				if !post(ctx, client, url+"/v2/jobs/activation", `{"type":"nobody-creates-these","maxJobsToActivate":1,"requestTimeout":10000,"timeout":60000}`, nil) {
					pause(ctx)
				}
			}
		})
	}
	for endAt.Load() == 0 {
		if time.Since(start) > 10*time.Minute {
			cancel()
			wg.Wait()
			return result{}, errors.New("the outage did not end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(after)
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return recovery(steps, time.Duration(startAt.Load()), time.Duration(endAt.Load())), nil
}

// recovery reads the creations per step: their rate from the second second
// until the outage began, and the time from its end until a step reached
// 90% of that rate.
func recovery(steps []int64, startAt, endAt time.Duration) result {
	var n int64
	from, to := int(time.Second/step), int(startAt/step)
	for i := from; i < to && i < len(steps); i++ {
		n += steps[i]
	}
	r := result{before: float64(n) / (time.Duration(max(to-from, 1)) * step).Seconds(), back: -1}
	for i := int(endAt / step); i < len(steps); i++ {
		if float64(steps[i])/step.Seconds() >= 0.9*r.before {
			r.back = time.Duration(i+1)*step - endAt
			break
		}
	}
	return r
}

// urlOf returns the URL in the gateway's first line, or "".
func urlOf(line string) string {
	if _, u, ok := strings.Cut(line, " gateway at "); ok {
		return strings.TrimSpace(u)
	}
	return ""
}

// post sends a JSON body and reports whether it was answered 2xx, decoding
// the answer into v when given.
func post(ctx context.Context, c *http.Client, url, body string, v any) bool {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return false
	}
	if v != nil {
		return json.NewDecoder(bytes.NewReader(data)).Decode(v) == nil
	}
	return true
}

// pause waits 100ms after a failure, as a worker does, unless ctx ends.
func pause(ctx context.Context) {
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
	}
}
