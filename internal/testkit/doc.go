// Package testkit is the shared kit of ebb's tests, in the spirit of
// net/http/httptest: a scripted in-memory RoundTripper ([Script]), a gate
// that holds attempts until the test answers them ([Gate]), response
// builders for every answer the verdict table knows ([Respond] and the
// canned steps), and a body that tells whether it was read and closed
// ([Body]). Every layer's tests use it, so that a maintainer who knows one
// layer's tests knows them all.
//
// Everything here is safe for concurrent use and works under
// testing/synctest (no goroutine of its own, no real clock).
package testkit
