package transport

import (
	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/retry"
)

// joinRetryHooks returns hooks that call a's then b's.
func joinRetryHooks(a, b retry.Hooks) retry.Hooks {
	return retry.Hooks{
		OnAttempt: join(a.OnAttempt, b.OnAttempt),
		OnRetry:   join(a.OnRetry, b.OnRetry),
		OnDone:    join(a.OnDone, b.OnDone),
	}
}

// joinBreakerHooks returns hooks that call a's then b's.
func joinBreakerHooks(a, b breaker.Hooks) breaker.Hooks {
	return breaker.Hooks{
		OnStateChange: join3(a.OnStateChange, b.OnStateChange),
		OnReject:      join2(a.OnReject, b.OnReject),
	}
}

// join3 is join for functions of three arguments.
func join3[A, B, C any](f, g func(A, B, C)) func(A, B, C) {
	switch {
	case f == nil:
		return g
	case g == nil:
		return f
	}
	return func(a A, b B, c C) { f(a, b, c); g(a, b, c) }
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

// join2 is join for functions of two arguments.
func join2[A, B any](f, g func(A, B)) func(A, B) {
	switch {
	case f == nil:
		return g
	case g == nil:
		return f
	}
	return func(a A, b B) { f(a, b); g(a, b) }
}
