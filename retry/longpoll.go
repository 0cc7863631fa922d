package retry

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ebb-go/ebb/verdict"
)

// defaultLongPoll is how long Camunda's gateway parks a job activation that
// names no requestTimeout (its longPolling timeout, 10s by default).
const defaultLongPoll = 10 * time.Second

// longPoll returns how long the server may hold req before it answers by
// design: the requestTimeout of a job activation, read from the body through
// GetBody; 0 for any other request.
func longPoll(req *http.Request, r verdict.Route) time.Duration {
	if r.Template != "/v2/jobs/activation" || req.GetBody == nil {
		return 0
	}
	body, err := req.GetBody()
	if err != nil {
		return defaultLongPoll
	}
	data, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	body.Close()
	var v struct {
		RequestTimeout json.RawMessage `json:"requestTimeout"`
	}
	if json.Unmarshal(data, &v) != nil || len(v.RequestTimeout) == 0 {
		return defaultLongPoll
	}
	// A number, or a string holding one, as clients that write 64-bit
	// integers as strings send it.
	raw := string(v.RequestTimeout)
	if uq, err := strconv.Unquote(raw); err == nil {
		raw = uq
	}
	ms, err := strconv.ParseInt(raw, 10, 64)
	switch {
	case err != nil, ms == 0:
		return defaultLongPoll
	case ms < 0:
		return 0
	}
	return time.Duration(min(ms, int64(time.Hour/time.Millisecond))) * time.Millisecond
}
