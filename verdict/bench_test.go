package verdict

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkOf503Problem is the cost of classifying one Camunda 8.8.3
// backpressure answer: a bounded read of its body and one parse.
func BenchmarkOf503Problem(b *testing.B) {
	h := http.Header{"Content-Type": {problemJSON}}
	r := strings.NewReader(body883)
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(body883)
		resp := &http.Response{StatusCode: 503, Header: h, Body: io.NopCloser(r)}
		if Of(nil, resp, nil).Kind != Backpressure {
			b.Fatal("wrong verdict")
		}
	}
}

// BenchmarkOf200 is the verdict of a success: the status alone.
func BenchmarkOf200(b *testing.B) {
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}
	b.ReportAllocs()
	for b.Loop() {
		Of(nil, resp, nil)
	}
}

func BenchmarkRouteOf(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		RouteOf("/v2/jobs/2251799813685249/completion")
	}
}

func BenchmarkRoutesOfGeneric(b *testing.B) {
	var rs Routes
	b.ReportAllocs()
	for b.Loop() {
		rs.Of("/api/orders/123456/items")
	}
}

// BenchmarkParks is what the limiter pays per job activation to tell one
// the gateway parks from one that asks for an answer at once: it reads the
// body again through GetBody.
func BenchmarkParks(b *testing.B) {
	req, _ := http.NewRequest(http.MethodPost, "http://camunda:8080/v2/jobs/activation",
		strings.NewReader(`{"type":"payment","worker":"w1","timeout":300000,"maxJobsToActivate":32,"requestTimeout":20000}`))
	b.ReportAllocs()
	for b.Loop() {
		if !Parks(req) {
			b.Fatal("does not park")
		}
	}
}
