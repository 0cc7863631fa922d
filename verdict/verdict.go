package verdict

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ebb-go/ebb/internal/bounded"
)

// MaxPeek is the most [Of] reads of a response body to classify it. Camunda's
// problem details are a few hundred bytes; the bound only keeps a huge error
// page from being held in memory.
const MaxPeek = 64 << 10

// Attempt is the reading of one attempt: its verdict and what it was drawn
// from. The zero value is a Success with no response.
type Attempt struct {
	// Kind is the verdict.
	Kind Kind
	// Status is the response's status code, or 0 when there was no response.
	Status int
	// Problem is the problem detail the server sent, when the body was
	// looked at (see the package doc) and held one; nil otherwise. It is
	// shared by every reader of the same response and must not be modified.
	Problem *Problem
	// OutOfDisk marks backpressure caused by a broker whose disk is full,
	// which does not clear in seconds.
	OutOfDisk bool
	// NotSent marks an attempt that provably never reached the server: a
	// transport error before any byte of the request was written (a refused
	// or failed dial), a local refusal, or a context that ended while the
	// attempt waited inside ebb (an error matching [ErrNotSent]), be it the
	// caller's or an attempt's time bound. Such a request may be sent again
	// whatever its method.
	NotSent bool
	// Err is the error the base RoundTripper returned, if any.
	Err error
}

const resourceExhausted = "RESOURCE_EXHAUSTED"

// Of returns the verdict of one attempt: the request that was sent and the
// response or error the next RoundTripper returned for it. It never fails and
// never panics, whatever the response holds.
//
// When the verdict depends on the body (see the package doc), Of reads at
// most [MaxPeek] bytes of it and replaces resp.Body with a reader that yields
// every byte the server sent, starting with those; the new body remembers the
// verdict, so later calls for the same response are free. resp is otherwise
// left alone. req may be nil; it is used to tell a cancellation by the caller
// from a transport error.
func Of(req *http.Request, resp *http.Response, err error) Attempt {
	if err != nil {
		return ofError(req, err)
	}
	if resp == nil {
		return Attempt{Kind: TransportError, Err: errNoResponse}
	}
	code := resp.StatusCode
	if code >= 400 { // only error bodies are peeked
		if a, ok := cached(resp.Body); ok {
			return a
		}
	}
	switch {
	case code < 400:
		return Attempt{Kind: Success, Status: code}
	case code == http.StatusTooManyRequests:
		a := Attempt{Kind: Backpressure, Status: code}
		peek(resp, &a)
		return a
	case code < 500:
		return Attempt{Kind: ClientError, Status: code}
	case code == http.StatusInternalServerError, code == http.StatusServiceUnavailable:
		a := Attempt{Kind: ServerError, Status: code}
		if code == http.StatusServiceUnavailable {
			a.Kind = Unavailable
		}
		peek(resp, &a)
		return a
	case code == http.StatusBadGateway, code == http.StatusGatewayTimeout:
		return Attempt{Kind: Unavailable, Status: code}
	default:
		return Attempt{Kind: ServerError, Status: code}
	}
}

var errNoResponse = errors.New("verdict: nil response and nil error")

// ErrRefused is matched, through errors.Is, by every error with which a
// layer of ebb turns a request down locally before sending it, such as
// breaker.ErrOpen and limiter.ErrQueueFull. [Of] gives such errors the
// verdict [Refused], so no other layer mistakes them for the server's answer.
var ErrRefused = errors.New("refused locally, nothing sent")

func ofError(req *http.Request, err error) Attempt {
	if errors.Is(err, ErrRefused) {
		return Attempt{Kind: Refused, Err: err, NotSent: true}
	}
	if (req != nil && req.Context().Err() != nil) || errors.Is(err, context.Canceled) {
		return Attempt{Kind: Canceled, Err: err, NotSent: errors.Is(err, ErrNotSent)}
	}
	return Attempt{Kind: TransportError, Err: err, NotSent: notSent(err) || errors.Is(err, ErrNotSent)}
}

// notSent reports whether err provably happened before the request was
// written: the connection was never established. net/http reports dial
// failures (refused, unreachable, DNS) as a *net.OpError with Op "dial".
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// PeekTimeout bounds the time [Of] waits for an error body. A refusal's
// problem detail is small and comes with its headers; a body that does not
// arrive within it is classified from the status and what did arrive, and
// its connection is closed.
const PeekTimeout = 250 * time.Millisecond

// peek reads a bounded prefix of a JSON body, wraps resp.Body so the caller
// still reads everything, and refines a (whose Kind holds the verdict the
// status alone gives) from what the prefix says. The refined verdict is
// stored in the new body.
func peek(resp *http.Response, a *Attempt) {
	if resp.Body == nil || resp.Body == http.NoBody || !jsonContent(resp.Header.Get("Content-Type")) {
		return
	}
	b := &peekedBody{rest: resp.Body}
	prefix, eof, err := bounded.Read(resp.Body, MaxPeek, PeekTimeout)
	b.prefix, b.eof, b.err = prefix, eof, err
	text := prefix
	if gz := resp.Header.Get("Content-Encoding"); !resp.Uncompressed && strings.EqualFold(strings.TrimSpace(gz), "gzip") {
		// The caller asked for compression itself, so net/http left the
		// body as it came: classify from a bounded decompression, and
		// hand the caller the bytes the server sent.
		text = gunzip(prefix)
	}
	if p, perr := ParseProblem(text); perr == nil {
		a.Problem = &p
		refine(a, p.Title, p.Detail)
	} else if bytes.Contains(text, []byte(resourceExhausted)) {
		// Malformed or truncated JSON that still names the signal: the
		// server meant backpressure, and treating it so is the safe reading
		// (the request was refused before any work was done).
		a.Kind = Backpressure
		a.OutOfDisk = bytes.Contains(bytes.ToLower(text), []byte("out of disk"))
	}
	b.attempt = *a
	resp.Body = b
}

// gunzip returns up to MaxPeek bytes of the gzip stream that data starts, or
// nil when it is not one.
func gunzip(data []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	out, _ := io.ReadAll(io.LimitReader(zr, MaxPeek))
	return out
}

// refine turns a 500 or 503 into backpressure when its problem names
// RESOURCE_EXHAUSTED, in its title (8.8.3 and later) or in its detail (the
// 8.8.0–8.8.2 job activation answer), and marks backpressure from a full disk.
func refine(a *Attempt, title, detail string) {
	if a.Kind == Backpressure {
		a.OutOfDisk = outOfDisk(title) || outOfDisk(detail)
		return
	}
	if strings.Contains(title, resourceExhausted) || strings.Contains(detail, resourceExhausted) {
		a.Kind = Backpressure
		a.OutOfDisk = outOfDisk(title) || outOfDisk(detail)
	}
}

// outOfDisk recognises the broker's out-of-disk rejections, such as "Cannot
// accept requests for partition 1. Broker is out of disk space".
func outOfDisk(s string) bool {
	if !strings.Contains(s, "disk") && !strings.Contains(s, "Disk") && !strings.Contains(s, "DISK") {
		return false
	}
	s = strings.ToLower(s)
	return strings.Contains(s, "out of disk") || strings.Contains(s, "disk space") || strings.Contains(s, "disk is full")
}

// jsonContent reports whether a Content-Type names JSON:
// application/problem+json, application/json, or any other +json type.
func jsonContent(ct string) bool {
	if ct == "" {
		return false
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	if len(ct) > 256 {
		return false
	}
	if strings.EqualFold(ct, "application/problem+json") || strings.EqualFold(ct, "application/json") {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (strings.HasSuffix(mt, "+json") || mt == "text/json")
}

// cached returns the verdict body carries when it was peeked, directly or
// under wrappers that hand on to it through an Unwrap() io.ReadCloser
// method (as the attempt bound of the retry layer wraps a response's body).
func cached(body io.ReadCloser) (Attempt, bool) {
	for range 8 {
		switch b := body.(type) {
		case *peekedBody:
			return b.attempt, true
		case interface{ Unwrap() io.ReadCloser }:
			body = b.Unwrap()
		default:
			return Attempt{}, false
		}
	}
	return Attempt{}, false
}

// peekedBody yields the peeked prefix, then the rest of the original body.
// A read error met while peeking is returned where it happened: after the
// prefix.
type peekedBody struct {
	prefix  []byte
	off     int
	eof     bool  // the original body ended within the prefix
	err     error // the original body failed within the prefix
	rest    io.ReadCloser
	attempt Attempt
}

func (b *peekedBody) Read(p []byte) (int, error) {
	if b.off < len(b.prefix) {
		n := copy(p, b.prefix[b.off:])
		b.off += n
		return n, nil
	}
	switch {
	case b.err != nil:
		return 0, b.err
	case b.eof:
		return 0, io.EOF
	}
	return b.rest.Read(p)
}

func (b *peekedBody) Close() error { return b.rest.Close() }

// ErrNotSent is matched, through errors.Is, by every error with which a layer
// of ebb reports that an attempt never left the process: it was refused
// locally ([ErrRefused]), or its context (the caller's, or an attempt's
// time bound) ended while it waited for a permit. [Of] marks such attempts NotSent, so that the retry layer
// can tell "nothing reached the server" from "the server may have acted".
var ErrNotSent = errors.New("not sent")
