package limiter

import (
	"fmt"

	"github.com/ebb-go/ebb/verdict"
)

// ErrQueueFull is matched, through errors.Is, by the error of an attempt
// refused because its host already had Settings.MaxWaiters attempts waiting
// for a permit. Nothing was sent. It matches [verdict.ErrRefused] too, so
// the other layers of ebb neither retry the refusal nor count it against
// the host.
var ErrQueueFull = fmt.Errorf("limiter: wait queue full: %w", verdict.ErrRefused)

// queueFullError names the host whose queue was full.
type queueFullError struct {
	host    string
	waiting int
}

func (e *queueFullError) Error() string {
	return fmt.Sprintf("limiter: wait queue full for %s (%d waiting): %v", e.host, e.waiting, verdict.ErrRefused)
}

func (e *queueFullError) Unwrap() error { return ErrQueueFull }
