// Command slotserver is the server of the dynamics harness: a stand-in for
// a Camunda 8.8.3 gateway with a fixed number of slots that refuses at once
// with 503 RESOURCE_EXHAUSTED what finds none free, and a control endpoint
// to halve its slots, script outages and refusals, and read its counters.
// Package slot (bench/internal/slot) documents both.
//
//	go run ./cmd/slotserver -slots 32 -service 10ms
//
// It prints one JSON line, {"api":"http://127.0.0.1:…","control":"http://127.0.0.1:…"},
// then serves until POST /quit, a signal, or -lifetime (3h).
package main

import (
	"os"

	"github.com/ebb-go/ebb/bench/internal/slot"
)

func main() { os.Exit(slot.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
