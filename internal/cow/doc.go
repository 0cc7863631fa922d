// Package cow provides a read-mostly map for the per-host and per-series
// caches on ebb's hot path: a lookup is one atomic load and one map read, with
// no lock and no write to shared memory, so requests on different cores do
// not contend on it; an insertion copies the map under a mutex. It suits
// maps that are read on every request and written a bounded number of times.
//
// Used by package metrics (its series caches) and package retry (its
// per-host budgets); safe for concurrent use.
package cow
