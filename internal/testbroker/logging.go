package testbroker

import (
	"context"
	"log/slog"
)

// redactPackets wraps mochi's logger: mochi logs whole packets under "pk" or
// "packet", and a (second) CONNECT packet carries the password. Dropping
// those attributes keeps passwords out of the logs.
type redactPackets struct {
	slog.Handler
}

func (h redactPackets) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "pk" && a.Key != "packet" {
			out.AddAttrs(a)
		}
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactPackets) WithAttrs(attrs []slog.Attr) slog.Handler {
	kept := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if a.Key != "pk" && a.Key != "packet" {
			kept = append(kept, a)
		}
	}
	return redactPackets{h.Handler.WithAttrs(kept)}
}

func (h redactPackets) WithGroup(name string) slog.Handler {
	return redactPackets{h.Handler.WithGroup(name)}
}
