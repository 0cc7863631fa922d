package transport

import "github.com/ebb-go/ebb/retry"

// joinRetryHooks returns hooks that call a's then b's.
func joinRetryHooks(a, b retry.Hooks) retry.Hooks {
	return retry.Hooks{
		OnAttempt: join(a.OnAttempt, b.OnAttempt),
		OnRetry:   join(a.OnRetry, b.OnRetry),
		OnDone:    join(a.OnDone, b.OnDone),
	}
}

// join returns a function calling f then g, leaving out the nil ones.
func join[T any](f, g func(T)) func(T) {
	switch {
	case f == nil:
		return g
	case g == nil:
		return f
	}
	return func(v T) { f(v); g(v) }
}
