package dynamics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ebb-go/ebb/bench/internal/load"
	"github.com/ebb-go/ebb/bench/internal/slot"
	"github.com/ebb-go/ebb/bench/internal/stats"
)

// bucket is the step of every time series, the server's and the
// clients' alike.
const bucket = slot.Bucket

const bucketMS = int(bucket / time.Millisecond)

// server is the slot server's process.
type server struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ready slot.Ready
	ctl   *http.Client
	done  chan error
}

// startServer starts the server process and waits for its ready line.
func startServer(ctx context.Context, p Programs, slots int, service time.Duration) (*server, error) {
	args := append(p.Server[1:len(p.Server):len(p.Server)], "-slots", strconv.Itoa(slots), "-service", service.String(), "-exit-on-eof")
	cmd := exec.Command(p.Server[0], args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dynamics: start the server: %w", err)
	}
	s := &server{cmd: cmd, stdin: stdin, ctl: &http.Client{Timeout: 10 * time.Second}, done: make(chan error, 1)}
	lines := make(chan []byte, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadBytes('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case line := <-lines:
		if err := json.Unmarshal(line, &s.ready); err != nil {
			s.stop()
			return nil, fmt.Errorf("dynamics: the server's ready line %q: %w", line, err)
		}
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, errors.New("dynamics: the server did not start within 30s")
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	return s, nil
}

// stop asks the server to quit, and kills it if it has not within 5s.
func (s *server) stop() {
	if s.ready.Control != "" {
		_ = s.control("/quit")
	}
	_ = s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.ctl.CloseIdleConnections()
}

// control sends a command to the server's control endpoint.
func (s *server) control(pathAndQuery string) error {
	resp, err := s.ctl.Post(s.ready.Control+pathAndQuery, "", nil)
	if err != nil {
		return fmt.Errorf("dynamics: control %s: %w", pathAndQuery, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("dynamics: control %s: %s: %s", pathAndQuery, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// counters reads the server's counters.
func (s *server) counters() (slot.Counters, error) {
	var c slot.Counters
	resp, err := s.ctl.Get(s.ready.Control + "/counters")
	if err != nil {
		return c, fmt.Errorf("dynamics: counters: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return c, fmt.Errorf("dynamics: counters: %w", err)
	}
	return c, nil
}

// clientRun is one client process of a scenario.
type clientRun struct {
	lib         string
	goroutines  int
	start, stop time.Duration
	window      stats.Span
	requests    int
}

// step is a change the driver makes to the server at an offset from T0.
type step struct {
	at  time.Duration
	cmd string
}

// scene runs client processes and server changes on one timeline: it
// resets the server to T0 = now + lead, applies setup at once, launches
// the clients, makes each step at its time, and returns the clients'
// results (in the order of runs) and the server's counters.
func (e *env) scene(ctx context.Context, setup []string, runs []clientRun, steps []step) ([]load.Result, slot.Counters, error) {
	t0 := time.Now().Add(e.cfg.Lead)
	if err := e.srv.control("/reset?t0=" + strconv.FormatInt(t0.UnixNano(), 10)); err != nil {
		return nil, slot.Counters{}, err
	}
	for _, c := range setup {
		if err := e.srv.control(c); err != nil {
			return nil, slot.Counters{}, err
		}
	}
	results := make([]load.Result, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Go(func() { results[i], errs[i] = e.runClient(ctx, t0, r) })
	}
	var stepErr error
	for _, s := range steps {
		select {
		case <-time.After(time.Until(t0.Add(s.at))):
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			stepErr = ctx.Err()
			break
		}
		if err := e.srv.control(s.cmd); err != nil {
			stepErr = err
			break
		}
	}
	wg.Wait()
	c, err := e.srv.counters()
	if err == nil {
		err = errors.Join(append(errs, stepErr)...)
	}
	return results, c, err
}

// runClient runs one client process and reads its result.
func (e *env) runClient(ctx context.Context, t0 time.Time, r clientRun) (load.Result, error) {
	// Every request has a deadline, and the client abandons goroutines
	// that outlive it by 5s: a process still running well after that is
	// killed.
	ctx, cancel := context.WithDeadline(ctx, t0.Add(r.stop+e.cfg.Timeout+30*time.Second))
	defer cancel()
	p := e.cfg.Programs
	args := append(p.Client[1:len(p.Client):len(p.Client)],
		"-lib", r.lib, "-url", e.srv.ready.API,
		"-goroutines", strconv.Itoa(r.goroutines),
		"-t0", strconv.FormatInt(t0.UnixNano(), 10),
		"-start", r.start.String(), "-stop", r.stop.String(),
		"-from", r.window.From.String(), "-to", r.window.To.String(),
		"-timeout", e.cfg.Timeout.String(),
		"-requests", strconv.Itoa(r.requests))
	cmd := exec.CommandContext(ctx, p.Client[0], args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return load.Result{}, fmt.Errorf("dynamics: client %s: %w: %s", r.lib, err, tail(stderr.String()))
	}
	var res load.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return load.Result{}, fmt.Errorf("dynamics: client %s: its result: %w", r.lib, err)
	}
	if res.Stuck > 0 {
		return res, fmt.Errorf("dynamics: client %s: %d goroutines stuck past their deadline", r.lib, res.Stuck)
	}
	return res, nil
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}
