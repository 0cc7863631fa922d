// Package simtest simulates an overloaded server and the clients pressing on
// it, to measure what ebb's layers do for throughput, rejections, failures
// and fairness.
//
// A [Server] has a number of slots and a service time; it answers 200 within
// its slots and refuses everything beyond them at once with Camunda's
// backpressure answer (503 RESOURCE_EXHAUSTED). A network latency and a
// spread of service times make it behave like a real server reached over a
// real network: without them, clients in closed loops keep their slots for
// ever and the phases of their requests never change. [Run] drives one or more
// [Load]s — groups of goroutines sending requests in a closed loop through
// a chain of RoundTrippers, each group standing for one process — for a
// simulated duration, and returns per-client counts: logical requests that
// succeeded, failed or were cut short, attempts that reached the server and
// how many of them it rejected, per client and per [Step] of the run, and
// how long each request took. [Jain] scores how evenly a resource was
// shared.
//
// The server can also stand for the other situations a client meets: a hot
// partition (a share refused at random whatever the load,
// [Server.SetRandomRefusals]), an outage (503 UNAVAILABLE or refused
// connections, [Server.SetOutage]), and Camunda's job activation, a long
// poll that holds no slot while it waits for jobs ([ActivationPath],
// [Server.SetJobs], [Server.SetLongPoll]).
//
// Everything is meant to run under testing/synctest: a minute of simulated
// traffic takes milliseconds of real time, and every delay is exact.
//
//	synctest.Test(t, func(t *testing.T) {
//		srv := simtest.NewServer(8, 10*time.Millisecond)
//		srv.SetLatency(100 * time.Microsecond)
//		srv.SetJitter(0.5)
//		res := simtest.Run(time.Minute, simtest.Load{Transport: chain(srv), Clients: 64})
//		t.Logf("goodput %.0f/s of %.0f/s", res.Goodput(), srv.Capacity())
//	})
//
// The package is internal: its shape serves ebb's own tests and examples.
package simtest
