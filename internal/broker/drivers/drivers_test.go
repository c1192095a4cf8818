package drivers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
)

func TestNewFactory(t *testing.T) {
	tests := []struct {
		name      string
		cfg       broker.Config
		want      broker.APIVersion
		wantClass broker.Class
		wantErr   bool
	}{
		{name: "v4", cfg: broker.Config{URL: "http://emqx:18083", APIVersion: broker.APIv4}, want: broker.APIv4},
		{name: "v5", cfg: broker.Config{URL: "https://emqx:18083/api/v5/", APIVersion: broker.APIv5}, want: broker.APIv5},
		{name: "from url v4", cfg: broker.Config{URL: "http://emqx:8081/api/v4"}, want: broker.APIv4},
		{name: "from url v5", cfg: broker.Config{URL: "http://emqx:18083/api/v5"}, want: broker.APIv5},
		{name: "unknown", cfg: broker.Config{URL: "http://emqx:18083", APIVersion: "v3"}, wantErr: true, wantClass: broker.ClassUnsupported},
		{name: "no version", cfg: broker.Config{URL: "http://emqx:18083"}, wantErr: true, wantClass: broker.ClassUnsupported},
		{name: "bad url", cfg: broker.Config{URL: "ftp://emqx", APIVersion: broker.APIv4}, wantErr: true, wantClass: broker.ClassMisconfigured},
		{name: "bad ca", cfg: broker.Config{URL: "https://emqx", APIVersion: broker.APIv5, CABundle: []byte("nope")}, wantErr: true, wantClass: broker.ClassMisconfigured},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewFactory().New(tt.cfg)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("New() = %v, want error", c)
				}
				if diff := cmp.Diff(tt.wantClass, broker.ClassOf(err)); diff != "" {
					t.Errorf("class mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("New() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, c.APIVersion()); diff != "" {
				t.Errorf("APIVersion mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
