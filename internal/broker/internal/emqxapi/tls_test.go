package emqxapi

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	tests := []struct {
		name string
		cfg  broker.Config
		want broker.Class
	}{
		{name: "custom ca", cfg: broker.Config{URL: srv.URL, CABundle: caPEM}},
		{name: "insecure", cfg: broker.Config{URL: srv.URL, InsecureSkipVerify: true}},
		{name: "unknown ca", cfg: broker.Config{URL: srv.URL}, want: broker.ClassMisconfigured},
		{name: "https to plain listener", cfg: broker.Config{URL: "https://" + plain.Listener.Addr().String(), InsecureSkipVerify: true}, want: broker.ClassMisconfigured},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := NewTransport(tt.cfg, "/api/v5")
			if err != nil {
				t.Fatal(err)
			}
			_, err = tr.Do(context.Background(), Request{Op: "Health", Method: http.MethodGet, Path: "/nodes"}, okCheck)
			if got := broker.ClassOf(err); got != tt.want {
				t.Errorf("class = %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}
