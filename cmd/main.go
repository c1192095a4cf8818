// Command manager runs the mqtt-operator controllers.
package main

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mqttoperator/mqtt-operator/internal/version"
)

func main() {
	// The global flag set also carries controller-runtime's --kubeconfig.
	opts := bindFlags(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	if opts.printVersion {
		fmt.Println("mqtt-operator " + version.Get().String())
		return
	}
	ctrl.SetLogger(newLogger(&zapOpts))
	log := ctrl.Log.WithName("setup")
	log.Info("starting mqtt-operator", version.Get().KeysAndValues()...)
	if limit := setMemoryLimit(os.ReadFile); limit > 0 {
		log.Info("set the Go runtime's soft memory limit from the container's", "bytes", limit)
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "cannot load a kubeconfig")
		os.Exit(1)
	}
	if err := run(ctrl.SetupSignalHandler(), cfg, opts); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}
