package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mqttoperator/mqtt-operator/internal/plugin"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line is wrong
)

// kubeFlags are the kubeconfig selections of the command line.
type kubeFlags struct {
	Kubeconfig string
	Context    string
}

// kubeConn is what the plugin uses of the selected cluster.
type kubeConn struct {
	client client.Client
	// namespace is the kubeconfig context's ("" when it names none).
	namespace string
	// tunnel reaches pods through the API server (managed brokers).
	tunnel plugin.Tunnel
}

// clientFactory connects to the cluster the kubeconfig flags select.
type clientFactory func(kubeFlags) (kubeConn, error)

// cli is the command line; tests replace the client factory and the clock.
type cli struct {
	ctx       context.Context
	newClient clientFactory
	clock     clock.PassiveClock
	version   string
	stdin     io.Reader
}

// flags holds every flag a command may define.
type flags struct {
	namespace     string
	allNamespaces bool
	output        string
	kube          kubeFlags
	// broker holds the flags of the commands that call a broker.
	broker brokerFlags
}

// command is one subcommand.
type command struct {
	name  string
	usage string
	// cluster commands take -n, --kubeconfig and --context and get a client.
	cluster bool
	// allNamespaces adds -A/--all-namespaces.
	allNamespaces bool
	// outputs are the accepted -o values besides the default; none means no -o.
	outputs []string
	// brokerCmd adds --broker (required) and --timeout.
	brokerCmd bool
	// define adds the command's own flags.
	define func(fs *flag.FlagSet, f *flags)
	// checkArgs validates the positional arguments before any cluster call.
	checkArgs func(args []string) error
	// checkFlags validates the command's own flags with its arguments.
	checkFlags func(f *flags, args []string) error
	exec       func(c cli, env execEnv) error
}

// execEnv is what a command runs with.
type execEnv struct {
	ctx       context.Context
	client    client.Client
	namespace string
	tunnel    plugin.Tunnel
	flags     flags
	args      []string
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
}

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

const clusterFlagsUsage = `  -n, --namespace string    namespace (default: the kubeconfig context's namespace, else "default")
      --kubeconfig string   kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
      --context string      kubeconfig context (default: the current context)
  -h, --help                show this help
`

const topUsage = `kubectl mqtt: look at and nudge mqtt-operator objects (MQTTBroker, MQTTUser, MQTTACL, MQTTBan).

Usage:
  kubectl mqtt <command> [arguments] [flags]

Commands:
  status [KIND...]                 readiness of every MQTT object in one table
  credentials <mqttuser>           an MQTTUser's connection details, password included
  reconcile <kind>/<name>...       ask the operator to reconcile objects now
  version                          print the plugin's version

Commands that call a broker (--broker NAME):
` + brokerCommandsUsage + `
Flags of every command but version:
` + clusterFlagsUsage + `
Run 'kubectl mqtt <command> --help' for more about a command.
`

func commands() []command {
	return append(clusterCommands(), brokerCommands()...)
}

// commandNames lists every command for error messages.
func commandNames() string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ")
}

func clusterCommands() []command {
	return []command{
		{
			name: "status",
			usage: `Show the readiness of every MQTTBroker, MQTTUser, MQTTACL and MQTTBan in one table.

Usage:
  kubectl mqtt status [KIND...] [flags]

READY is the Ready condition (True, False or Unknown) followed by what qualifies it:
  Stalled       retrying cannot help until the spec or a referenced object changes
  Reconciling   the operator is working on the object or waiting for something
  Stale         the status describes an older generation of the spec
  Deleting      the object is being deleted
REASON and MESSAGE explain Ready. KIND arguments limit the table to those kinds:
` + plugin.KindNames() + `.

Examples:
  kubectl mqtt status
  kubectl mqtt status -A
  kubectl mqtt status mqu mqacl -n team-a
  kubectl mqtt status -o json

Flags:
  -A, --all-namespaces      every namespace (adds a NAMESPACE column)
  -o, --output string       json (for programs) or wide (messages not truncated)
` + clusterFlagsUsage,
			cluster:       true,
			allNamespaces: true,
			outputs:       []string{plugin.OutputJSON, plugin.OutputWide},
			checkArgs: func(args []string) error {
				for _, a := range args {
					if _, err := plugin.ParseKind(a); err != nil {
						return &usageError{msg: err.Error()}
					}
				}
				return nil
			},
			exec: func(c cli, env execEnv) error {
				opts := plugin.StatusOptions{Namespace: env.namespace, AllNamespaces: env.flags.allNamespaces, Output: env.flags.output}
				for _, a := range env.args {
					k, _ := plugin.ParseKind(a) // checked by checkArgs
					opts.Kinds = append(opts.Kinds, k)
				}
				return plugin.Status(env.ctx, env.client, env.stdout, c.clock, opts)
			},
		},
		{
			name: "credentials",
			usage: `Print an MQTTUser's connection details (username, password, host, port) from the
Secret named in its status.credentialsSecretName.

This prints the password in clear text on standard output.

Usage:
  kubectl mqtt credentials <mqttuser> [flags]

Examples:
  kubectl mqtt credentials sensor-1
  set -a; eval "$(kubectl mqtt credentials sensor-1 -o env)"; set +a

Flags:
  -o, --output string       env: MQTT_USERNAME=, MQTT_PASSWORD=, MQTT_HOST=, MQTT_PORT= lines,
                            quoted for a POSIX shell (default: username=... lines, unquoted)
` + clusterFlagsUsage,
			cluster: true,
			outputs: []string{plugin.OutputEnv},
			checkArgs: func(args []string) error {
				if len(args) != 1 {
					return usagef("credentials takes exactly one MQTTUser name, got %d arguments", len(args))
				}
				if err := plugin.ValidateName(args[0]); err != nil {
					return &usageError{msg: err.Error()}
				}
				return nil
			},
			exec: func(c cli, env execEnv) error {
				return plugin.WriteCredentials(env.ctx, env.client, env.stdout,
					plugin.CredentialsOptions{Namespace: env.namespace, Name: env.args[0], Output: env.flags.output})
			},
		},
		{
			name: "reconcile",
			usage: `Ask the operator to reconcile objects now. The plugin sets the annotation
` + plugin.ReconcileRequestedAtAnnotation + ` to the current time (RFC 3339);
the operator reacts to the change. Nothing else of the object changes.

Usage:
  kubectl mqtt reconcile <kind>/<name>... [flags]

Kinds: ` + plugin.KindNames() + `

Examples:
  kubectl mqtt reconcile mqttuser/sensor-1
  kubectl mqtt reconcile mqu/sensor-1 mqacl/sensor-1 -n team-a

Flags:
` + clusterFlagsUsage,
			cluster: true,
			checkArgs: func(args []string) error {
				if len(args) == 0 {
					return usagef("reconcile needs at least one <kind>/<name>, e.g. mqttuser/sensor-1")
				}
				for _, a := range args {
					if _, err := plugin.ParseRef(a); err != nil {
						return &usageError{msg: err.Error()}
					}
				}
				return nil
			},
			exec: func(c cli, env execEnv) error {
				return plugin.Reconcile(env.ctx, env.client, env.stdout, c.clock,
					plugin.ReconcileOptions{Namespace: env.namespace, Refs: env.args})
			},
		},
		versionCommand(),
	}
}

// run executes the command line args (without the program name) and returns
// the exit code. Errors are one line on stderr.
func (c cli) run(args []string, stdout, stderr io.Writer) int {
	err := c.dispatch(args, stdout, stderr)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, plugin.ErrDenied) {
		return exitError // the answer "no" is printed already
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	_, _ = fmt.Fprintf(stderr, "error: %s\n", msg)
	var ue *usageError
	if errors.As(err, &ue) {
		_, _ = fmt.Fprintln(stderr, "Run 'kubectl mqtt --help' for usage.")
		return exitUsage
	}
	return exitError
}

func (c cli) dispatch(args []string, stdout, stderr io.Writer) error {
	name, rest := splitCommand(args)
	cmds := commands()
	find := func(n string) (command, bool) {
		i := slices.IndexFunc(cmds, func(c command) bool { return c.name == n })
		if i < 0 {
			return command{}, false
		}
		return cmds[i], true
	}
	if name == "" || name == "help" {
		return builtin(name, rest, find, stdout, stderr)
	}
	cmd, ok := find(name)
	if !ok {
		return usagef("unknown command %q: want one of %s", name, commandNames())
	}
	var f flags
	fs := cmd.flagSet(&f)
	pos, err := parseInterleaved(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		_, err := io.WriteString(stdout, cmd.usage)
		return err
	}
	if err != nil {
		return usagef("%s: %v", cmd.name, err)
	}
	if err := cmd.check(&f, pos); err != nil {
		return err
	}
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	env := execEnv{ctx: ctx, flags: f, args: pos, stdin: c.stdin, stdout: stdout, stderr: stderr}
	if cmd.cluster {
		if err := c.connect(&env); err != nil {
			return err
		}
	}
	return cmd.exec(c, env)
}

// builtin runs what needs no command: usage with no command, and help.
func builtin(name string, rest []string, find func(string) (command, bool), stdout, stderr io.Writer) error {
	if name == "" {
		if slices.ContainsFunc(rest, isHelpFlag) {
			_, err := io.WriteString(stdout, topUsage)
			return err
		}
		if len(rest) == 0 {
			_, _ = io.WriteString(stderr, topUsage+"\n")
		}
		return usagef("no command given: want one of %s", commandNames())
	}
	if len(rest) == 0 {
		_, err := io.WriteString(stdout, topUsage)
		return err
	}
	cmd, ok := find(rest[0])
	if !ok || len(rest) > 1 {
		return usagef("help takes one command name: one of %s", commandNames())
	}
	_, err := io.WriteString(stdout, cmd.usage)
	return err
}

// flagSet declares the flags cmd takes, into f.
func (cmd command) flagSet(f *flags) *flag.FlagSet {
	fs := flag.NewFlagSet("kubectl mqtt "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if cmd.cluster {
		fs.StringVar(&f.namespace, "n", "", "")
		fs.StringVar(&f.namespace, "namespace", "", "")
		fs.StringVar(&f.kube.Kubeconfig, "kubeconfig", "", "")
		fs.StringVar(&f.kube.Context, "context", "", "")
	}
	if cmd.allNamespaces {
		fs.BoolVar(&f.allNamespaces, "A", false, "")
		fs.BoolVar(&f.allNamespaces, "all-namespaces", false, "")
	}
	if len(cmd.outputs) > 0 {
		fs.StringVar(&f.output, "o", "", "")
		fs.StringVar(&f.output, "output", "", "")
	}
	if cmd.brokerCmd {
		fs.StringVar(&f.broker.name, "broker", "", "")
		fs.DurationVar(&f.broker.timeout, "timeout", plugin.DefaultBrokerTimeout, "")
	}
	if cmd.define != nil {
		cmd.define(fs, f)
	}
	return fs
}

// check refuses parsed arguments and flags cmd cannot run with.
func (cmd command) check(f *flags, pos []string) error {
	if err := cmd.checkArgs(pos); err != nil {
		return err
	}
	if cmd.brokerCmd {
		if err := checkBrokerFlag(cmd.name, f.broker); err != nil {
			return err
		}
	}
	if cmd.checkFlags != nil {
		if err := cmd.checkFlags(f, pos); err != nil {
			return err
		}
	}
	if f.output != "" && !slices.Contains(cmd.outputs, f.output) {
		return usagef("%s: unknown output format %q: want %s", cmd.name, f.output, strings.Join(cmd.outputs, " or "))
	}
	if f.allNamespaces && f.namespace != "" {
		return usagef("%s: --namespace and --all-namespaces cannot be used together", cmd.name)
	}
	if f.namespace != "" {
		if err := plugin.ValidateNamespace(f.namespace); err != nil {
			return &usageError{msg: err.Error()}
		}
	}
	return nil
}

// connect gives env a client of the cluster and the namespace to work in:
// --namespace, else the kubeconfig's, else default.
func (c cli) connect(env *execEnv) error {
	kc, err := c.newClient(env.flags.kube)
	if err != nil {
		return err
	}
	env.client, env.tunnel = kc.client, kc.tunnel
	env.namespace = env.flags.namespace
	if env.namespace == "" {
		env.namespace = kc.namespace
	}
	if env.namespace == "" {
		env.namespace = "default"
	}
	return nil
}

// valueFlags are the flags that take a value, for finding the command name
// behind flags placed before it (kubectl mqtt -n team-a status).
var valueFlags = append([]string{"n", "namespace", "kubeconfig", "context", "o", "output"}, brokerValueFlags...)

// splitCommand returns the first argument that is neither a flag nor a
// flag's value, and the other arguments in their order.
func splitCommand(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest := append(slices.Clone(args[:i]), args[i+1:]...)
			return a, rest
		}
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && slices.Contains(valueFlags, name) {
			i++ // skip the value
		}
	}
	return "", args
}

// parseInterleaved parses flags placed before, between and after the
// positional arguments, as kubectl does; "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func isHelpFlag(a string) bool { return a == "-h" || a == "--help" || a == "-help" }
