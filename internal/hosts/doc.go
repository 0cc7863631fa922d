// Package hosts is the one per-host table of ebb: every layer that keeps
// state per server (the retry budget, the breaker, the limiter, the metric
// series) keeps it in a [Table], keyed the same way and bounded the same way.
//
// # Keys
//
// A host is folded before it is keyed: scheme and host in lower case, the
// scheme's default port filled in (verdict.Host.Label), so Example.COM,
// example.com and example.com:80 share one entry and one bound. Folding
// allocates, so each spelling a request uses is remembered (up to four times
// the table's bound, after which the spellings are forgotten and learnt
// again); the host the last request went to is remembered too, since most
// clients talk to one cluster. A lookup of a known host costs one pointer
// comparison, or one lock-free map read, and never allocates.
//
// # Bounds
//
// A Table holds at most Max hosts. When a new host finds it full, the table
// asks the layer's eviction rule (Retire) for an entry that carries nothing
// worth keeping, and forgets it; when none may go, or the layer has no
// eviction rule, the new host gets the layer's overflow value (a shared
// "other" entry, or nil for "no state: pass through").
//
// A Table is safe for concurrent use.
package hosts
