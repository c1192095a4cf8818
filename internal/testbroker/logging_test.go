package testbroker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactPackets(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(redactPackets{slog.NewTextHandler(&buf, nil)})
	log.With("packet", "secret-1").Warn("error processing packet", "pk", "secret-2", "client", "c1")
	out := buf.String()
	if strings.Contains(out, "secret") {
		t.Errorf("packet logged: %s", out)
	}
	if !strings.Contains(out, "client=c1") {
		t.Errorf("other attributes dropped: %s", out)
	}
}
