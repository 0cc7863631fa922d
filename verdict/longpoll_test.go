package verdict

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLongPoll(t *testing.T) {
	route := RouteOf("/v2/jobs/activation")
	tests := []struct {
		give string
		want time.Duration
	}{
		{`{"requestTimeout":20000}`, 20 * time.Second},
		{`{"requestTimeout":"5000"}`, 5 * time.Second},
		{`{"requestTimeout":0}`, DefaultLongPoll},
		{`{"type":"t"}`, DefaultLongPoll},
		{`{"requestTimeout":-1}`, 0},
		{`not json`, DefaultLongPoll},
		{`{"requestTimeout":99999999999999}`, time.Hour},
		{`{"requestTimeout":1.5e4}`, 15 * time.Second},
		{`{"requestTimeout":-1.0}`, 0},
		{`{"requestTimeout":-0.5}`, 0},
		{`{"requestTimeout":0.5}`, time.Millisecond},
		{`{"requestTimeout":"soon"}`, DefaultLongPoll},
		{`{"requestTimeout":1e300}`, time.Hour},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("POST", "http://gw/v2/jobs/activation", strings.NewReader(tt.give))
		if got := LongPoll(req, route); got != tt.want {
			t.Errorf("LongPoll(%s) = %v, want %v", tt.give, got, tt.want)
		}
	}
	req, _ := http.NewRequest("POST", "http://gw/v2/process-instances", strings.NewReader(`{"requestTimeout":20000}`))
	if got := LongPoll(req, RouteOf(req.URL.Path)); got != 0 {
		t.Errorf("a create is a long poll of %v", got)
	}
}

func TestParks(t *testing.T) {
	tests := []struct {
		path, body string
		want       bool
	}{
		{"/v2/jobs/activation", `{"type":"t","requestTimeout":20000}`, true},
		{"/v2/jobs/activation", `{"type":"t"}`, true},
		{"/v2/jobs/activation", `{"requestTimeout":0}`, true},
		{"/v2/jobs/activation", `not json`, true},
		{"/v2/jobs/activation", `{"type":"t","requestTimeout":-1}`, false},
		{"/v2/jobs/activation", `{"requestTimeout":"-1"}`, false},
		{"/v2/jobs/activation", `{"requestTimeout":-1e3}`, false},
		{"/v2/process-instances", `{"requestTimeout":20000}`, false},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("POST", "http://gw"+tt.path, strings.NewReader(tt.body))
		if got := Parks(req); got != tt.want {
			t.Errorf("Parks(%s %s) = %v, want %v", tt.path, tt.body, got, tt.want)
		}
	}
	// A body that cannot be read again: an activation parks as far as
	// anyone can tell.
	req, _ := http.NewRequest("POST", "http://gw/v2/jobs/activation", strings.NewReader(`{"requestTimeout":-1}`))
	req.GetBody = nil
	if !Parks(req) {
		t.Error("an activation whose body cannot be read again does not park")
	}
	req, _ = http.NewRequest("GET", "http://gw/v2/jobs/activation", nil)
	if Parks(req) {
		t.Error("a GET parks")
	}
}
