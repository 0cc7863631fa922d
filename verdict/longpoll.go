package verdict

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"
)

// DefaultLongPoll is how long Camunda's gateway parks a job activation that
// names no requestTimeout (its longPolling timeout, 10s by default).
const DefaultLongPoll = 10 * time.Second

// LongPoll returns how long the server may hold req before it answers by
// design: the requestTimeout of a job activation (r is req's route), read
// from the body through GetBody; DefaultLongPoll when it names none, 0 when
// it asks for an answer at once, and 0 for any other request or a body that
// cannot be read again. Layers that bound an attempt add it to their bound,
// so that they never cut a long poll short.
func LongPoll(req *http.Request, r Route) time.Duration {
	if r.Template != "/v2/jobs/activation" || req.GetBody == nil {
		return 0
	}
	body, err := req.GetBody()
	if err != nil {
		return DefaultLongPoll
	}
	data, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	body.Close()
	var v struct {
		RequestTimeout json.RawMessage `json:"requestTimeout"`
	}
	if json.Unmarshal(data, &v) != nil || len(v.RequestTimeout) == 0 {
		return DefaultLongPoll
	}
	// A number, or a string holding one, as clients that write 64-bit
	// integers as strings send it.
	raw := string(v.RequestTimeout)
	if uq, err := strconv.Unquote(raw); err == nil {
		raw = uq
	}
	ms, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		// A JSON number need not be written as an integer (1e4, -1.0).
		f, ferr := strconv.ParseFloat(raw, 64)
		if ferr != nil || math.IsNaN(f) {
			return DefaultLongPoll
		}
		// A fraction of a millisecond keeps its sign: under zero asks for
		// an answer at once, as zero itself would not.
		f = max(min(f, math.MaxInt64/2), math.MinInt64/2)
		if ms = int64(f); ms == 0 && f != 0 {
			ms = int64(math.Copysign(1, f))
		}
	}
	switch {
	case ms == 0:
		return DefaultLongPoll
	case ms < 0:
		return 0
	}
	return time.Duration(min(ms, int64(time.Hour/time.Millisecond))) * time.Millisecond
}

// Parks reports whether the gateway may park req as a long poll: req is a
// job activation ([Activation]) that does not ask for an answer at once (a
// negative requestTimeout, which turns long polling off, and for which
// [LongPoll] is 0). An activation whose body cannot be read again parks as
// far as anyone can tell. It reads the body through GetBody, so callers ask
// it only where the answer matters.
func Parks(req *http.Request) bool {
	if !Activation(req) {
		return false
	}
	return req.GetBody == nil || LongPoll(req, RouteOf(trimmedPath(req))) > 0
}
