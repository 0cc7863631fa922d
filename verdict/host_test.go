package verdict

import (
	"net/http"
	"testing"
)

func TestHost(t *testing.T) {
	tests := []struct{ give, label, str string }{
		{"http://Example.com/x", "example.com:80", "http://example.com:80"},
		{"https://example.com/x", "example.com:443", "https://example.com:443"},
		{"https://user:secret@example.com:8443/x", "example.com:8443", "https://example.com:8443"},
		{"http://127.0.0.1:26500/v2/topology", "127.0.0.1:26500", "http://127.0.0.1:26500"},
		{"http://[::1]:8080/", "[::1]:8080", "http://[::1]:8080"},
		{"http://[::1]/", "[::1]:80", "http://[::1]:80"},
	}
	for _, tt := range tests {
		req, err := http.NewRequest("GET", tt.give, nil)
		if err != nil {
			t.Fatal(err)
		}
		h := HostOf(req)
		if h.Label() != tt.label || h.String() != tt.str {
			t.Errorf("%s: Label %q String %q; want %q %q", tt.give, h.Label(), h.String(), tt.label, tt.str)
		}
	}
	req, _ := http.NewRequest("GET", "http://a:1/", nil)
	if n := testing.AllocsPerRun(100, func() { _ = HostOf(req) }); n != 0 {
		t.Fatalf("HostOf allocates %v", n)
	}
}
