package bounded

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebb-go/ebb/internal/testkit"
)

type readCloser struct {
	io.Reader
	closed bool
}

func (r *readCloser) Close() error { r.closed = true; return nil }

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		limit   int
		want    string
		wantEOF bool
	}{
		{"short", "hello", 10, "hello", true},
		{"exact", "hello", 5, "hello", false}, // the end is not read past the limit
		{"long", "hello world", 5, "hello", false},
		{"one over", "hello!", 5, "hello", false},
		{"empty", "", 5, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, eof, err := Read(&readCloser{Reader: strings.NewReader(tt.give)}, tt.limit, time.Second)
			if string(data) != tt.want || eof != tt.wantEOF || err != nil {
				t.Fatalf("Read = %q, %v, %v; want %q, %v, nil", data, eof, err, tt.want, tt.wantEOF)
			}
		})
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	r := &readCloser{Reader: io.MultiReader(strings.NewReader("ab"), iotestErr{boom})}
	data, eof, err := Read(r, 10, time.Second)
	if string(data) != "ab" || eof || !errors.Is(err, boom) {
		t.Fatalf("Read = %q, %v, %v", data, eof, err)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

// stallBody yields its prefix, then blocks until closed.
type stallBody struct {
	prefix string
	done   chan struct{}
}

func (s *stallBody) Read(p []byte) (int, error) {
	if s.prefix != "" {
		n := copy(p, s.prefix)
		s.prefix = s.prefix[n:]
		return n, nil
	}
	<-s.done
	return 0, errors.New("use of closed connection")
}

func (s *stallBody) Close() error {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	return nil
}

func TestReadStalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &stallBody{prefix: `{"title":"RESOURCE_EXHAUSTED"}`, done: make(chan struct{})}
		start := time.Now()
		data, eof, err := Read(b, 1<<10, 200*time.Millisecond)
		if !errors.Is(err, ErrStalled) || eof || string(data) != `{"title":"RESOURCE_EXHAUSTED"}` {
			t.Fatalf("Read = %q, %v, %v", data, eof, err)
		}
		if time.Since(start) != 200*time.Millisecond {
			t.Fatalf("returned after %v, want 200ms", time.Since(start))
		}
	})
}

// TestStalledHTTPBody checks the premise of the package over loopback: a
// response body of net/http's Transport whose server stalls is released by
// the time bound.
func TestStalledHTTPBody(t *testing.T) {
	url := testkit.StalledServer(t, `{"title":"RESOURCE_EXHAUSTED"}`)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var data []byte
	go func() {
		data, _, err = Read(resp.Body, 64<<10, 50*time.Millisecond)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled body was not released by the time bound")
	}
	if !errors.Is(err, ErrStalled) || string(data) != `{"title":"RESOURCE_EXHAUSTED"}` {
		t.Fatalf("Read = %q, %v", data, err)
	}
}
