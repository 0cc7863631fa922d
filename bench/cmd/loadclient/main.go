// Command loadclient is the client of the dynamics harness: goroutines in
// closed loops sending POST /v2/process-instances through one contender
// (ebb, go-retryablehttp, failsafe-go, or none) to the slot server, then one
// JSON document on stdout with what they saw. Package load
// (bench/internal/load) documents what it counts.
//
//	go run ./cmd/loadclient -lib ebb -url http://127.0.0.1:PORT -goroutines 256 -stop 10s
package main

import (
	"os"

	"github.com/ebb-go/ebb/bench/internal/load"
)

func main() { os.Exit(load.Main(os.Args[1:], os.Stdout, os.Stderr)) }
