// Package bounded reads response bodies with a bound in bytes and in time,
// for the two places where ebb reads a body the caller did not ask it to:
// the verdict's peek at an error body and the retry layer's drain of an
// answer it discards. A server that sends its headers and then stalls must
// not hold either for longer than a short while.
//
// The time bound works by closing the body from a timer. For bodies of
// net/http's Transport, Close aborts a Read in progress by closing the
// connection, so a stalled read returns at once; the connection is not
// reused, which is what a stalled connection deserves.
//
// [RoundTrip] bounds the wait for an attempt's response headers, for the
// retry layer's AttemptTimeout and the breaker's ProbeTimeout; the retry
// layer plans by the bounds around it as by a deadline ([Deadline]), and
// the limiter holds an attempt's bound while the attempt waits for a permit
// ([Hold]).
package bounded
