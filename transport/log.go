package transport

import (
	"context"
	"errors"
	"log/slog"
	"net/url"

	"github.com/ebb-go/ebb/breaker"
	"github.com/ebb-go/ebb/retry"
	"github.com/ebb-go/ebb/verdict"
)

// logHooks returns the retry hooks that log, or none without a logger.
func logHooks(l *slog.Logger) retry.Hooks {
	if l == nil {
		return retry.Hooks{}
	}
	// Paths outside Camunda's API are templated in a table of the
	// logger's own, bounded like every other, so that no ID is logged.
	routes := &verdict.Routes{Max: 256}
	attrs := func(e retry.Event) []slog.Attr {
		route := e.Route.Template
		if route == "" {
			route = routes.Of(e.Request.URL.Path).Template
		}
		a := []slog.Attr{
			slog.String("host", e.Host),
			slog.String("route", route),
			slog.String("method", e.Request.Method),
			slog.Int("attempt", e.Attempt),
			slog.String("verdict", e.Verdict.Kind.String()),
		}
		if e.Verdict.Status != 0 {
			a = append(a, slog.Int("status", e.Verdict.Status))
		}
		return a
	}
	return retry.Hooks{
		OnRetry: func(e retry.Event) {
			ctx := e.Request.Context()
			if !l.Enabled(ctx, slog.LevelDebug) {
				return
			}
			a := append(attrs(e), slog.Duration("delay", e.Delay), slog.String("source", e.Source.String()))
			l.LogAttrs(ctx, slog.LevelDebug, "ebb: retrying", a...)
		},
		OnDone: func(e retry.Event) {
			if !e.Verdict.Kind.Failure() {
				return
			}
			ctx := e.Request.Context()
			if !l.Enabled(ctx, slog.LevelWarn) {
				return
			}
			a := append(attrs(e), slog.String("stop", e.Stop.String()))
			if e.Verdict.Err != nil {
				a = append(a, slog.String("error", errorClass(e.Verdict.Err)))
			}
			l.LogAttrs(ctx, slog.LevelWarn, "ebb: giving up", a...)
		},
	}
}

// errorClass describes a transport error without the URL that a *url.Error
// carries, since URLs may hold secrets.
func errorClass(err error) string {
	var ue *url.Error
	for errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// breakerLogHooks logs the transitions of the breakers, or nothing without
// a logger.
func breakerLogHooks(l *slog.Logger) breaker.Hooks {
	if l == nil {
		return breaker.Hooks{}
	}
	return breaker.Hooks{
		OnStateChange: func(host string, from, to breaker.State) {
			level := slog.LevelInfo
			if to == breaker.Open {
				level = slog.LevelWarn
			}
			l.LogAttrs(context.Background(), level, "ebb: breaker "+to.String(),
				slog.String("host", host), slog.String("from", from.String()), slog.String("to", to.String()))
		},
	}
}
