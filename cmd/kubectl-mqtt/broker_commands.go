package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/plugin"
)

// brokerFlags are the flags of the commands that call a broker.
type brokerFlags struct {
	name     string
	timeout  time.Duration
	client   string
	username string
	ip       string
	state    string
	qos      int
	retain   bool
	encoding string
	file     string
	batch    string
	live     bool
	noMatch  string
}

// brokerValueFlags are the broker commands' flags that take a value.
var brokerValueFlags = []string{"broker", "timeout", "client", "username", "ip", "state", "qos", "encoding", "file", "batch", "no-match"}

const brokerCommandsUsage = `  clients [get ID]                 connected clients (filters: --client, --username, --ip, --state)
  kick ID...                       disconnect clients and end their sessions
  subscriptions                    subscriptions of every client, or of --client ID
  subscribe --client ID TOPIC      subscribe a client on its behalf (or --file for a batch)
  unsubscribe --client ID TOPIC    remove a client's subscription (or --file for a batch)
  publish TOPIC PAYLOAD            publish a message (or --file, --batch)
  metrics                          message, authentication and authorization counters
  stats                            connections, sessions, subscriptions, topics and retained messages now
  can-i USER|--client ID ACTION TOPIC
                                   may a client publish or subscribe to a topic, and which rule says so
  import                           print the broker's users, rules and bans as manifests
`

const brokerFlagsUsage = `      --broker string       the MQTTBroker to call (required), in the namespace of -n
      --timeout duration    bound on each broker API call (default 30s)
`

const outputUsage = `  -o, --output string       json or yaml (default: a table)
`

func checkBrokerFlag(cmd string, f brokerFlags) error {
	if f.name == "" {
		return usagef("%s needs --broker NAME (the MQTTBroker to call)", cmd)
	}
	if err := plugin.ValidateName(f.name); err != nil {
		return &usageError{msg: "--broker: " + err.Error()}
	}
	if f.timeout <= 0 {
		return usagef("%s: --timeout must be positive", cmd)
	}
	return nil
}

// connect opens the broker named by --broker.
func connect(env execEnv) (*plugin.BrokerConn, error) {
	return plugin.ConnectBroker(env.ctx, env.client, env.tunnel, env.namespace, env.flags.broker.name, env.flags.broker.timeout)
}

// withBroker runs fn with a connected broker.
func withBroker(env execEnv, fn func(conn *plugin.BrokerConn) error) error {
	conn, err := connect(env)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn)
}

// readInput reads a file, or standard input for "-".
func readInput(env execEnv, path string) ([]byte, error) {
	if path == "-" {
		if env.stdin == nil {
			return nil, fmt.Errorf("no standard input")
		}
		return io.ReadAll(env.stdin)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

func nArgs(cmd string, n int) func([]string) error {
	return func(args []string) error {
		if len(args) != n {
			return usagef("%s takes %d arguments, got %d", cmd, n, len(args))
		}
		return nil
	}
}

func brokerCommand(c command) command {
	c.cluster, c.brokerCmd = true, true
	if c.checkArgs == nil {
		c.checkArgs = nArgs(c.name, 0)
	}
	return c
}

var docOutputs = []string{plugin.OutputJSON, plugin.OutputYAML}

func brokerCommands() []command {
	return []command{
		brokerCommand(command{
			name: "clients",
			usage: `List the broker's clients, or show one.

Usage:
  kubectl mqtt clients --broker NAME [--client ID] [--username NAME] [--ip ADDRESS] [--state STATE] [flags]
  kubectl mqtt clients get ID --broker NAME [flags]

Examples:
  kubectl mqtt clients --broker emqx
  kubectl mqtt clients --broker emqx --username sensor-1 --state connected
  kubectl mqtt clients get dev-42 --broker emqx -o yaml

Flags:
      --client string       only this client id
      --username string     only clients connected with this username
      --ip string           only clients connected from this address
      --state string        only clients in this state: connected, idle or disconnected
` + outputUsage + brokerFlagsUsage + clusterFlagsUsage,
			outputs: docOutputs,
			define: func(fs *flag.FlagSet, f *flags) {
				fs.StringVar(&f.broker.client, "client", "", "")
				fs.StringVar(&f.broker.username, "username", "", "")
				fs.StringVar(&f.broker.ip, "ip", "", "")
				fs.StringVar(&f.broker.state, "state", "", "")
			},
			checkArgs: func(args []string) error {
				if len(args) == 0 || (len(args) == 2 && args[0] == "get") {
					return nil
				}
				return usagef("clients takes no arguments, or get ID")
			},
			checkFlags: func(f *flags, args []string) error {
				b := f.broker
				if len(args) > 0 && (b.client != "" || b.username != "" || b.ip != "" || b.state != "") {
					return usagef("clients get ID takes no filters")
				}
				switch broker.ConnState(b.state) {
				case "", broker.ConnConnected, broker.ConnIdle, broker.ConnDisconnected:
					return nil
				}
				return usagef("clients: unknown --state %q: want connected, idle or disconnected", b.state)
			},
			exec: func(c cli, env execEnv) error {
				return withBroker(env, func(conn *plugin.BrokerConn) error {
					if len(env.args) == 2 {
						return plugin.GetClient(env.ctx, conn.Client, env.stdout, env.args[1], env.flags.output)
					}
					b := env.flags.broker
					f := broker.ClientFilter{ClientID: b.client, Username: b.username, IPAddress: b.ip, State: broker.ConnState(b.state)}
					return plugin.Clients(env.ctx, conn.Client, env.stdout, f, env.flags.output)
				})
			},
		}),
		brokerCommand(command{
			name: "kick",
			usage: `Disconnect clients and end their sessions. A client the broker does not know is an error.

Usage:
  kubectl mqtt kick ID... --broker NAME [flags]

Examples:
  kubectl mqtt kick dev-42 --broker emqx

Flags:
` + brokerFlagsUsage + clusterFlagsUsage,
			checkArgs: func(args []string) error {
				if len(args) == 0 {
					return usagef("kick needs at least one client id")
				}
				return nil
			},
			exec: func(c cli, env execEnv) error {
				return withBroker(env, func(conn *plugin.BrokerConn) error {
					return plugin.Kick(env.ctx, conn.Client, env.stdout, env.args)
				})
			},
		}),
		brokerCommand(command{
			name: "subscriptions",
			usage: `List subscriptions: every client's, or one client's.

Usage:
  kubectl mqtt subscriptions --broker NAME [--client ID] [flags]

Examples:
  kubectl mqtt subscriptions --broker emqx
  kubectl mqtt subscriptions --broker emqx --client dev-42 -o json

Flags:
      --client string       only this client's subscriptions
` + outputUsage + brokerFlagsUsage + clusterFlagsUsage,
			outputs: docOutputs,
			define: func(fs *flag.FlagSet, f *flags) {
				fs.StringVar(&f.broker.client, "client", "", "")
			},
			exec: func(c cli, env execEnv) error {
				return withBroker(env, func(conn *plugin.BrokerConn) error {
					return plugin.Subscriptions(env.ctx, conn.Client, env.stdout, env.flags.broker.client, env.flags.output)
				})
			},
		}),
		subscribeCommand(false),
		subscribeCommand(true),
		brokerCommand(command{
			name: "publish",
			usage: `Publish a message through the broker's API, as the broker itself (no client's
authorization applies).

Usage:
  kubectl mqtt publish TOPIC PAYLOAD --broker NAME [--qos N] [--retain] [--encoding plain|base64] [flags]
  kubectl mqtt publish TOPIC --file PATH|- --broker NAME [flags]
  kubectl mqtt publish --batch PATH|- --broker NAME [flags]

A batch file is a YAML or JSON list of {topic, payload, encoding, qos, retain}:
  - topic: commands/dev-42
    payload: reboot
  - topic: firmware/dev-42
    payload: AAEC
    encoding: base64
    qos: 1
    retain: true

Examples:
  kubectl mqtt publish commands/dev-42 reboot --broker emqx --qos 1
  kubectl mqtt publish firmware/dev-42 --file image.bin --broker emqx
  echo -n AAEC | kubectl mqtt publish raw/dev-42 --file - --encoding base64 --broker emqx

Flags:
      --qos int             0, 1 or 2 (default 0)
      --retain              the broker keeps the message for later subscribers
      --encoding string     plain (default) or base64: how PAYLOAD or the file is written
      --file string         read the payload from this file; - for standard input
      --batch string        publish every message of this file; - for standard input
` + outputUsage + brokerFlagsUsage + clusterFlagsUsage,
			outputs: docOutputs,
			define: func(fs *flag.FlagSet, f *flags) {
				fs.IntVar(&f.broker.qos, "qos", 0, "")
				fs.BoolVar(&f.broker.retain, "retain", false, "")
				fs.StringVar(&f.broker.encoding, "encoding", plugin.EncodingPlain, "")
				fs.StringVar(&f.broker.file, "file", "", "")
				fs.StringVar(&f.broker.batch, "batch", "", "")
			},
			checkArgs: func(args []string) error {
				if len(args) > 2 {
					return usagef("publish takes TOPIC and PAYLOAD, got %d arguments", len(args))
				}
				return nil
			},
			checkFlags: func(f *flags, args []string) error {
				b := f.broker
				if b.batch != "" {
					if len(args) > 0 || b.file != "" {
						return usagef("publish --batch takes no TOPIC, PAYLOAD or --file")
					}
					return nil
				}
				switch {
				case len(args) == 0:
					return usagef("publish needs a TOPIC (or --batch FILE)")
				case len(args) == 2 && b.file != "":
					return usagef("publish takes the payload from PAYLOAD or --file, not both")
				case len(args) == 1 && b.file == "":
					return usagef("publish needs a PAYLOAD argument or --file PATH (- for standard input)")
				case b.encoding != plugin.EncodingPlain && b.encoding != plugin.EncodingBase64:
					return usagef("publish: unknown --encoding %q: want plain or base64", b.encoding)
				}
				if err := plugin.CheckMessage(args[0], b.qos); err != nil {
					return &usageError{msg: "publish: " + err.Error()}
				}
				return nil
			},
			exec: func(c cli, env execEnv) error {
				b := env.flags.broker
				var msgs []broker.Message
				if b.batch != "" {
					data, err := readInput(env, b.batch)
					if err != nil {
						return err
					}
					if msgs, err = plugin.ParsePublishFile(data); err != nil {
						return err
					}
				} else {
					var raw []byte
					if len(env.args) == 2 {
						raw = []byte(env.args[1])
					} else {
						var err error
						if raw, err = readInput(env, b.file); err != nil {
							return err
						}
					}
					payload, err := plugin.DecodePayload(raw, b.encoding)
					if err != nil {
						return err
					}
					msgs = []broker.Message{{Topic: env.args[0], Payload: payload, QoS: b.qos, Retain: b.retain}}
				}
				return withBroker(env, func(conn *plugin.BrokerConn) error {
					return plugin.Publish(env.ctx, conn.Client, env.stdout, msgs, env.flags.output)
				})
			},
		}),
		metricsCommand(false),
		metricsCommand(true),
		brokerCommand(command{
			name: "can-i",
			usage: `Answer whether a client may publish or subscribe to a topic, and name the MQTTACL
and the rule that decides, evaluating the MQTTACL objects as the broker's API flavour
does: the client id's rules, then the username's, then the rules for all clients, first
match wins; when nothing matches, the broker's no-match setting (deny on a managed
broker). The answer is printed as yes or no; the exit code is 0 for yes, 1 for no.

Usage:
  kubectl mqtt can-i USER ACTION TOPIC --broker NAME [flags]
  kubectl mqtt can-i --client ID [USER] ACTION TOPIC --broker NAME [flags]

ACTION is publish or subscribe (pub, sub).

Examples:
  kubectl mqtt can-i sensor-1 publish sensors/sensor-1/temp --broker emqx
  kubectl mqtt can-i --client dev-42 subscribe 'commands/#' --broker emqx --live

Flags:
      --client string       the client id (its rules are evaluated first)
      --live                ask the broker's rules instead and report differences from the objects
      --no-match string     the broker's answer when no rule matches: allow or deny
                            (default deny, as the operator configures managed brokers)
` + outputUsage + brokerFlagsUsage + clusterFlagsUsage,
			outputs: docOutputs,
			define: func(fs *flag.FlagSet, f *flags) {
				fs.StringVar(&f.broker.client, "client", "", "")
				fs.BoolVar(&f.broker.live, "live", false, "")
				fs.StringVar(&f.broker.noMatch, "no-match", "", "")
			},
			checkArgs: func(args []string) error {
				if len(args) < 2 || len(args) > 3 {
					return usagef("can-i takes USER ACTION TOPIC, or ACTION TOPIC with --client ID")
				}
				if _, err := parseAction(args[len(args)-2]); err != nil {
					return err
				}
				return nil
			},
			checkFlags: func(f *flags, args []string) error {
				if len(args) == 2 && f.broker.client == "" {
					return usagef("can-i takes USER ACTION TOPIC, or ACTION TOPIC with --client ID")
				}
				if nm := f.broker.noMatch; nm != "" && nm != "allow" && nm != "deny" {
					return usagef("can-i: unknown --no-match %q: want allow or deny", nm)
				}
				return nil
			},
			exec: func(c cli, env execEnv) error {
				b, a := env.flags.broker, env.args
				action, _ := parseAction(a[len(a)-2]) // checked by checkArgs
				o := plugin.CanIOptions{Namespace: env.namespace, Broker: b.name, ClientID: b.client, Action: action,
					Topic: a[len(a)-1], NoMatch: b.noMatch, Live: b.live, Output: env.flags.output}
				if len(a) == 3 {
					o.Username, o.HasUsername = a[0], true
				}
				return plugin.CanI(env.ctx, env.client, func() (*plugin.BrokerConn, error) { return connect(env) }, env.stdout, o)
			},
		}),
		brokerCommand(command{
			name: "import",
			usage: `Print a broker's users, ACL rules and bans as MQTTUser, MQTTACL and MQTTBan
manifests (in the broker's namespace, brokerRef set) to bring an existing broker's
configuration under Git. Applying them changes nothing on the broker:

  - brokers never reveal passwords, so every MQTTUser has spec.keepExistingPassword:
    true and the operator leaves the broker's password alone (status passwordSource:
    Broker) until you give it spec.passwordSecretRef;
  - rules are copied in the order the broker evaluates them;
  - bans keep their reason and end; bans that have ended are skipped.

Names are the identities in DNS-1123 form; an identity that had to be changed (or
that collides) gets a short hash suffix, so the same broker always gives the same
names. What cannot be imported is reported on standard error.

Usage:
  kubectl mqtt import --broker NAME [flags]

Examples:
  kubectl mqtt import --broker emqx-cloud > emqx-cloud.yaml
  kubectl mqtt import --broker emqx-cloud | kubectl apply -f -

Flags:
  -o, --output string       yaml (default: a YAML stream) or json (a List)
` + brokerFlagsUsage + clusterFlagsUsage,
			outputs: docOutputs,
			exec: func(c cli, env execEnv) error {
				return withBroker(env, func(conn *plugin.BrokerConn) error {
					return plugin.Import(env.ctx, conn, env.stdout, env.stderr, env.flags.output, c.clock.Now())
				})
			},
		}),
	}
}

// parseAction reads a can-i action.
func parseAction(s string) (broker.Action, error) {
	switch strings.ToLower(s) {
	case "publish", "pub":
		return broker.ActionPublish, nil
	case "subscribe", "sub":
		return broker.ActionSubscribe, nil
	}
	return "", usagef("unknown action %q: want publish or subscribe", s)
}

func subscribeCommand(unsubscribe bool) command {
	name, what := "subscribe", "Subscribe connected clients to topics on their behalf."
	qosFlag, qosExample := "      --qos int             0, 1 or 2 (default 0)\n", " --qos 1"
	if unsubscribe {
		name, what = "unsubscribe", "Remove subscriptions of connected clients."
		qosFlag, qosExample = "", ""
	}
	return brokerCommand(command{
		name: name,
		usage: what + `

Usage:
  kubectl mqtt ` + name + ` --client ID TOPIC --broker NAME [flags]
  kubectl mqtt ` + name + ` --file PATH|- --broker NAME [flags]

A batch file is a YAML or JSON list of {clientid, topic, qos}:
  - clientid: dev-42
    topic: commands/dev-42
    qos: 1

Examples:
  kubectl mqtt ` + name + ` --client dev-42 commands/dev-42 --broker emqx` + qosExample + `
  kubectl mqtt ` + name + ` --file subscriptions.yaml --broker emqx

Flags:
      --client string       the client id
` + qosFlag + `      --file string         a batch file; - for standard input
` + brokerFlagsUsage + clusterFlagsUsage,
		define: func(fs *flag.FlagSet, f *flags) {
			fs.StringVar(&f.broker.client, "client", "", "")
			fs.StringVar(&f.broker.file, "file", "", "")
			if !unsubscribe {
				fs.IntVar(&f.broker.qos, "qos", 0, "")
			}
		},
		checkArgs: func(args []string) error {
			if len(args) > 1 {
				return usagef("%s takes one TOPIC, got %d arguments", name, len(args))
			}
			return nil
		},
		checkFlags: func(f *flags, args []string) error {
			b := f.broker
			if b.file != "" {
				if b.client != "" || len(args) > 0 {
					return usagef("%s --file takes no --client or TOPIC", name)
				}
				return nil
			}
			if b.client == "" || len(args) != 1 {
				return usagef("%s needs --client ID and a TOPIC (or --file)", name)
			}
			if err := plugin.CheckSubscribe(broker.SubscribeRequest{ClientID: b.client, Topic: args[0], QoS: b.qos}); err != nil {
				return &usageError{msg: name + ": " + err.Error()}
			}
			return nil
		},
		exec: func(c cli, env execEnv) error {
			b := env.flags.broker
			rs := []broker.SubscribeRequest{{ClientID: b.client, QoS: b.qos}}
			if b.file != "" {
				data, err := readInput(env, b.file)
				if err != nil {
					return err
				}
				if rs, err = plugin.ParseSubscribeFile(data); err != nil {
					return err
				}
			} else {
				rs[0].Topic = env.args[0]
			}
			return withBroker(env, func(conn *plugin.BrokerConn) error {
				return plugin.Subscribe(env.ctx, conn.Client, env.stdout, rs, unsubscribe)
			})
		},
	})
}

func metricsCommand(stats bool) command {
	name, what := "metrics", "Show the broker's counters since its nodes started, summed over them: messages received, sent,\ndropped and retained, authentication failures and authorization denials."
	if stats {
		name, what = "stats", "Show the broker's state now, summed over its nodes: connections (all and live), sessions,\nsubscriptions, topics and retained messages."
	}
	return brokerCommand(command{
		name: name,
		usage: what + `

Usage:
  kubectl mqtt ` + name + ` --broker NAME [flags]

Flags:
` + outputUsage + brokerFlagsUsage + clusterFlagsUsage,
		outputs: slices.Clone(docOutputs),
		exec: func(c cli, env execEnv) error {
			return withBroker(env, func(conn *plugin.BrokerConn) error {
				return plugin.Metrics(env.ctx, conn.Client, env.stdout, stats, env.flags.output)
			})
		},
	})
}
