package verdict

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func FuzzParseProblem(f *testing.F) {
	for _, s := range []string{body883, body880activation, body86java, bodyDisk, `{"a":1}`, `{"status":1e400}`, `[]`, `{`, ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProblem(data)
		if err != nil {
			return
		}
		// Whatever parsed must encode and parse back to the same members.
		enc, err := p.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		q, err := ParseProblem(enc)
		if err != nil || q.Title != p.Title || q.Detail != p.Detail || q.Status != p.Status || q.Type != p.Type || q.Instance != p.Instance {
			t.Fatalf("round trip of %q: %+v -> %s -> %+v (%v)", data, p, enc, q, err)
		}
	})
}

func FuzzOf(f *testing.F) {
	for _, s := range []string{body883, body880activation, body86java, bodyDisk, bodyUnavail, "<html>", ""} {
		for _, code := range []int{200, 429, 500, 503} {
			f.Add(code, problemJSON, []byte(s))
		}
	}
	f.Add(503, "text/html", []byte("RESOURCE_EXHAUSTED"))
	f.Fuzz(func(t *testing.T, code int, contentType string, body []byte) {
		resp := &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {contentType}},
			Body: io.NopCloser(bytes.NewReader(body))}
		a := Of(nil, resp, nil)
		if int(a.Kind) >= NumKinds || a.Kind == Canceled || a.Kind == TransportError {
			t.Fatalf("kind %v for a response", a.Kind)
		}
		if a.OutOfDisk && a.Kind != Backpressure {
			t.Fatalf("out of disk without backpressure: %+v", a)
		}
		switch {
		case code == 429:
			if a.Kind != Backpressure {
				t.Fatalf("429 gave %v", a.Kind)
			}
		case code < 400:
			if a.Kind != Success {
				t.Fatalf("%d gave %v", code, a.Kind)
			}
		}
		if b := Of(nil, resp, nil); b.Kind != a.Kind || b.Problem != a.Problem {
			t.Fatalf("second look differs")
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("body changed: %q -> %q (%v)", body, got, err)
		}
	})
}

func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"0", "120", "-1", "1e3", "Wed, 25 Nov 2026 12:00:10 GMT", "Wednesday, 25-Nov-26 12:00:10 GMT", "Wed Nov 25 12:00:10 2026", strings.Repeat("9", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := RetryAfter(http.Header{"Retry-After": {v}}, now)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("RetryAfter(%q) = %v", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("RetryAfter(%q) = %v without ok", v, d)
		}
	})
}

// FuzzLongPoll: whatever an activation's body holds, LongPoll stays within
// [0, 1h], and Parks, which finds the route for itself, says the gateway
// parks it exactly when LongPoll gives it a wait.
func FuzzLongPoll(f *testing.F) {
	for _, s := range []string{`{"requestTimeout":20000}`, `{"requestTimeout":"-5"}`, `{"requestTimeout":0}`, `{}`, `[`, `{"requestTimeout":1e3}`, `{"requestTimeout":-0}`} {
		f.Add(s)
	}
	route := RouteOf("/v2/jobs/activation")
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest("POST", "http://gw/v2/jobs/activation", strings.NewReader(body))
		lp := LongPoll(req, route)
		if lp < 0 || lp > time.Hour {
			t.Fatalf("LongPoll(%q) = %v", body, lp)
		}
		if p := Parks(req); p != (lp > 0) {
			t.Fatalf("Parks(%q) = %v with LongPoll %v", body, p, lp)
		}
	})
}
