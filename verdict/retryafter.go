package verdict

import (
	"net/http"
	"strings"
	"time"
)

// maxRetryAfter is where delta-seconds stop being counted: far beyond any cap
// a caller would set, and far from overflowing a time.Duration.
const maxRetryAfter = 1 << 30 * time.Second

// RetryAfter parses the Retry-After header of a response (RFC 9110 section
// 10.2.3) as the time to wait from now. Both forms are accepted:
// delta-seconds ("120") and an HTTP-date, in any of the three formats
// http.ParseTime knows. A date in the past means no wait (0, true). A missing,
// negative, fractional or otherwise malformed value reports false. Absurdly
// large values are clamped rather than overflowing.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	v = strings.TrimSpace(v)
	if d, ok := deltaSeconds(v); ok {
		return d, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return min(d, maxRetryAfter), true
}

// deltaSeconds parses 1*DIGIT, clamping at maxRetryAfter.
func deltaSeconds(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	var secs int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		secs = min(secs*10+int64(c-'0'), int64(maxRetryAfter/time.Second))
	}
	return time.Duration(secs) * time.Second, true
}
