package load

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/ebb-go/ebb/bench/internal/stats"
)

// Main is the load client's command (cmd/loadclient): it parses args, runs
// the client, prints its Result as one JSON document on stdout and returns
// an exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg  Config
		t0   = fs.Int64("t0", 0, "the instant offsets count from, in Unix nanoseconds (0: 100ms from now)")
		from = fs.Duration("from", 0, "start of the measured window, from t0")
		to   = fs.Duration("to", 0, "end of the measured window, from t0 (0: -stop)")
	)
	fs.StringVar(&cfg.Lib, "lib", "ebb", "the contender: none, ebb, ebb-nolimit, retryablehttp, failsafe, failsafe-attempt")
	fs.StringVar(&cfg.URL, "url", "", "the server's base URL, on loopback")
	fs.IntVar(&cfg.Goroutines, "goroutines", 256, "closed loops")
	fs.DurationVar(&cfg.Start, "start", 0, "when the loops start, from t0")
	fs.DurationVar(&cfg.Stop, "stop", 10*time.Second, "when the loops stop, from t0")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "context timeout of each logical request")
	fs.IntVar(&cfg.Requests, "requests", 0, "requests per loop (0: until -stop)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.T0 = time.Now().Add(100 * time.Millisecond)
	if *t0 != 0 {
		cfg.T0 = time.Unix(0, *t0)
	}
	cfg.Window = stats.Span{From: *from, To: *to}
	if *to == 0 {
		cfg.Window.To = cfg.Stop
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(res); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
