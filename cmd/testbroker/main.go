// Command testbroker runs the EMQX test double: a real MQTT broker with
// EMQX's v4 and v5 management APIs on one address, for `make dev` and
// end-to-end scripts. See package internal/testbroker for what it emulates
// and for the loopback-only /testbroker/ control API.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/testbroker"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "testbroker:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("testbroker", flag.ContinueOnError)
	var opts testbroker.Options
	fs.StringVar(&opts.MQTTAddr, "mqtt-addr", "127.0.0.1:1883", "MQTT listener address")
	fs.StringVar(&opts.APIAddr, "api-addr", "127.0.0.1:18083", "management API listener address (/api/v4 and /api/v5)")
	fs.StringVar(&opts.AppID, "app-id", "admin", "v4 AppID / v5 API key for HTTP Basic auth")
	fs.StringVar(&opts.AppSecret, "app-secret", "public", "v4 AppSecret / v5 API secret for HTTP Basic auth")
	fs.StringVar(&opts.TLSCertFile, "tls-cert", "", "PEM certificate file to serve the API over TLS")
	fs.StringVar(&opts.TLSKeyFile, "tls-key", "", "PEM key file to serve the API over TLS")
	fs.DurationVar(&opts.AuthzCacheTTL, "authz-cache-ttl", time.Minute, "per-connection authorization cache TTL")
	fs.StringVar(&opts.V5UserIDType, "v5-user-id-type", "username", "user_id_type of the v5 built-in authenticator: username or clientid")
	fs.StringVar(&opts.Version4, "version4", "4.4.19", "broker version reported by /api/v4")
	fs.StringVar(&opts.Version5, "version5", "5.8.9", "broker version reported by /api/v5")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	// The secret is never logged: only addresses and the AppID are.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	opts.Logger = log

	b, err := testbroker.New(opts)
	if err != nil {
		return fmt.Errorf("create broker: %w", err)
	}
	if err := b.Start(); err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	log.Info("testbroker ready", "mqtt", b.MQTTAddr(), "api", b.APIURL(), "app_id", opts.AppID,
		"v5_user_id_type", opts.V5UserIDType, "control", b.APIURL()+"/testbroker/")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down")
	if err := b.Close(); err != nil {
		return fmt.Errorf("close broker: %w", err)
	}
	return nil
}
