package main

import (
	"fmt"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// versionCommand prints the plugin's build (stamped by the release build,
// see internal/version) and the API version it speaks.
func versionCommand() command {
	return command{
		name: "version",
		usage: `Print the plugin's version, commit, build date and the MQTT API version it reads.

Usage:
  kubectl mqtt version

Flags:
  -h, --help                show this help
`,
		checkArgs: func(args []string) error {
			if len(args) != 0 {
				return usagef("version takes no arguments")
			}
			return nil
		},
		exec: func(c cli, env execEnv) error {
			_, err := fmt.Fprintf(env.stdout, "kubectl-mqtt %s\nAPI: %s\n", c.version, mqttv1.GroupVersion)
			return err
		},
	}
}
