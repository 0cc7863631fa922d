// Package contender holds the clients the bench compares, each configured
// as its library's documentation shows: ebb's chain with its defaults (and
// with its limiter off), go-retryablehttp's default client and failsafe-go's
// HTTP retry policy with a circuit breaker. Every one is built over a base
// http.RoundTripper that the caller supplies, so that the clients differ in
// their policies and not in their connection pools.
//
// The same constructors serve the in-process comparisons of package bench
// (under testing/synctest) and the load client of the dynamics harness
// (cmd/loadclient), so both measure the same configurations.
package contender
