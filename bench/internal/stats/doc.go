// Package stats holds the arithmetic of the dynamics harness: Jain's
// fairness index, a mergeable histogram of latencies, the summary of
// repeated measurements (median [min–max]), and the reading of 100ms time
// series (a mean over a span, the time until a series reaches a level).
// Nothing here keeps state between calls or is safe for concurrent use
// unless its doc says so.
package stats
