// Package drivers picks the EMQX driver for a broker.Config. It lives apart
// from package broker because the drivers import broker.
package drivers

import (
	"fmt"
	"strings"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/emqx4"
	"github.com/mqttoperator/mqtt-operator/internal/broker/emqx5"
)

// NewFactory returns the production Factory: Config.APIVersion "v4" builds
// an emqx4 client and "v5" an emqx5 client. When APIVersion is empty, a URL
// ending in /api/v4 or /api/v5 decides; anything else is ClassUnsupported.
func NewFactory() broker.Factory { return broker.FactoryFunc(New) }

// New builds the client NewFactory would.
func New(cfg broker.Config) (broker.Client, error) {
	v := cfg.APIVersion
	if v == "" {
		v = versionFromURL(cfg.URL)
	}
	switch v {
	case broker.APIv4:
		c, err := emqx4.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("emqx v4 client: %w", err)
		}
		return c, nil
	case broker.APIv5:
		c, err := emqx5.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("emqx v5 client: %w", err)
		}
		return c, nil
	}
	return nil, &broker.Error{Op: "New", Class: broker.ClassUnsupported, Message: fmt.Sprintf("unsupported api version %q (want v4 or v5)", cfg.APIVersion)}
}

func versionFromURL(u string) broker.APIVersion {
	u = strings.TrimRight(strings.TrimSpace(u), "/")
	switch {
	case strings.HasSuffix(u, "/api/v4"):
		return broker.APIv4
	case strings.HasSuffix(u, "/api/v5"):
		return broker.APIv5
	}
	return ""
}
