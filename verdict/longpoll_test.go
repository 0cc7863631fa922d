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
