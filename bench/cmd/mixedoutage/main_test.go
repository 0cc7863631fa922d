package main

import (
	"testing"
	"time"
)

func TestRecovery(t *testing.T) {
	// 10 per step before, nothing during the outage (2s to 3s), 5 then 9
	// then 10 after it.
	steps := make([]int64, 40)
	for i := range steps {
		switch {
		case i < 20:
			steps[i] = 10
		case i < 30:
			steps[i] = 0
		case i == 30:
			steps[i] = 5
		default:
			steps[i] = 9
		}
	}
	r := recovery(steps, 2*time.Second, 3*time.Second)
	if r.before != 100 || r.back != 200*time.Millisecond {
		t.Fatalf("recovery = %+v, want 100/s before, back after 200ms", r)
	}
	steps[31], steps[32] = 0, 0
	for i := 33; i < 40; i++ {
		steps[i] = 8
	}
	if r := recovery(steps, 2*time.Second, 3*time.Second); r.back != -1 {
		t.Fatalf("never back to 90%%: back = %v, want -1", r.back)
	}
}

func TestURLOf(t *testing.T) {
	if u := urlOf("emulated Camunda 8.8.3 gateway at http://127.0.0.1:4321"); u != "http://127.0.0.1:4321" {
		t.Fatalf("urlOf = %q", u)
	}
	if u := urlOf("answers: ..."); u != "" {
		t.Fatalf("urlOf = %q on another line", u)
	}
	if got := describe([]time.Duration{500 * time.Millisecond, -1, 200 * time.Millisecond}); got != "not back, 0.2s, 0.5s" {
		t.Fatalf("describe = %q", got)
	}
}
