// Package readmap provides Map, the read-mostly map behind ebb's per-host
// tables and metric series caches.
//
// A lookup of an established key is one atomic load and one read of an
// immutable Go map: no lock, no write to shared memory, so requests on
// different cores never contend on it. Keys added since the last snapshot
// live in a small mutex-guarded map until enough lookups miss the snapshot
// to pay for a new one; the snapshot is then rebuilt once for all of them.
// Rebuilding costs the size of the map, and happens only after as many
// misses, so an insertion costs O(1) amortised however large the map grows
// (a copy-on-write map pays O(n) for every insertion).
//
// A Map is safe for concurrent use. Its zero value is empty and ready.
package readmap
