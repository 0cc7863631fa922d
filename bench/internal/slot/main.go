package slot

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"syscall"
	"time"
)

// Ready is the line Main prints on its standard output once it serves:
// the base URLs of the API and of the control endpoint.
type Ready struct {
	API     string `json:"api"`
	Control string `json:"control"`
}

// Main is the slot server's command (cmd/slotserver): it parses args,
// serves, prints a Ready line on stdout, and returns an exit code once it
// is told to quit (POST /quit, SIGINT, SIGTERM, the end of stdin with
// -exit-on-eof) or once -lifetime has passed.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("slotserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		set      Settings
		addr     = fs.String("addr", "127.0.0.1:0", "loopback address of the API")
		control  = fs.String("control", "127.0.0.1:0", "loopback address of the control endpoint")
		lifetime = fs.Duration("lifetime", 3*time.Hour, "stop after this long whatever happens")
		eof      = fs.Bool("exit-on-eof", false, "stop when standard input ends (for a parent process that may die)")
	)
	fs.IntVar(&set.Slots, "slots", 32, "requests served at once")
	fs.DurationVar(&set.Service, "service", 10*time.Millisecond, "how long each accepted request holds its slot")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if set.Slots <= 0 || set.Service <= 0 {
		fmt.Fprintln(stderr, "slotserver: -slots and -service must be positive")
		return 2
	}
	if err := loopback(*control); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *lifetime)
	defer cancel()

	srv := New(set)
	apiAddr, err := srv.Listen(*addr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer srv.Close()

	ctl := &http.Server{Handler: srv.Control(cancel), ReadHeaderTimeout: 10 * time.Second}
	ctlLn, err := listen(*control)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	go func() { _ = ctl.Serve(ctlLn) }()
	defer ctl.Close()

	if *eof {
		go func() {
			_, _ = io.Copy(io.Discard, bufio.NewReader(stdin))
			cancel()
		}()
	}
	line, _ := json.Marshal(Ready{API: "http://" + apiAddr, Control: "http://" + ctlLn.Addr().String()})
	fmt.Fprintf(stdout, "%s\n", line)
	<-ctx.Done()
	return 0
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
