// Command dynamics is ebb's dynamics harness: it builds the slot server and
// the load client, starts the server in its own process on loopback, and
// runs issue 10's scenarios — steady overload with a capacity probe,
// outages, capacity halving and returning, a lone client, a hot partition,
// a fleet of client processes — for each contender in turn, repeated, then
// writes results.json, results.md and PNG charts into -out, updates the
// dynamics section of -readme, and prints the tables.
//
//	cd bench && go run ./cmd/dynamics            # the full run, about an hour
//	cd bench && go run ./cmd/dynamics -reps 1 -scale 0.3 -readme '' -out /tmp/dyn
//
// Package dynamics (bench/internal/dynamics) documents the scenarios and
// every figure.
package main

import (
	"os"

	"github.com/ebb-go/ebb/bench/internal/dynamics"
)

func main() { os.Exit(dynamics.Main(os.Args[1:], os.Stdout, os.Stderr)) }
