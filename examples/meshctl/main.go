// Command meshctl is the meshmq command line. It joins a cluster as a peer
// of its own (by gossip, or through a static member list), does one thing,
// and leaves gracefully:
//
//	meshctl members   -join 127.0.0.1:7946                  # who is there: endpoints, services, subscriptions, keys, message types
//	meshctl send      -join 127.0.0.1:7946 orders -body 42  # one message to one instance of orders, acknowledged
//	meshctl publish   -join 127.0.0.1:7946 orders.created -body '{"id":1}'
//	meshctl request   -join 127.0.0.1:7946 quotes -body '{"sku":"a-1"}'
//	meshctl subscribe -join 127.0.0.1:7946 'orders.>' -count 10   # alias: tail
//	meshctl serve     -join 127.0.0.1:7946 quotes          # a handler that prints and answers (echo)
//	meshctl api       -join 127.0.0.1:7946 -format json -o api.json
//	meshctl bench     -local -n 100000 -size 64            # alone: a receiver of its own
//	meshctl dashboard -join 127.0.0.1:7946 -listen 127.0.0.1:8080
//
// (go run ./examples/meshctl COMMAND ... from the repository.) Flags may come
// before or after a command's argument. Every command takes -join (gossip
// seeds), -gossip, -data, -cluster, -profile, -name, -timeout, -v, and the
// security flags of examples/cluster (-curve-key, -allow, -gossip-key; or
// -gossip-key-hex); `meshctl help COMMAND` lists them with examples.
//
// Before acting, a command waits for gossip to converge: until it has
// joined, then until its target (a member handling the service, subscribing
// to the topic) is in view, bounded by -timeout; it says what it waits for
// when that takes more than a second. Results go to standard output (the
// table, the acknowledgement, the reply's body, the events, the document,
// the bench's progress and summary); what meshctl waits for, the reply's
// metadata and errors go to standard error, so that results can be piped.
//
// Exit status: 0 on success, 1 when the command failed (nothing handles the
// service, not acknowledged in time, a dead letter), 2 for a mistake on the
// command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/meshmq/meshmq/examples/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the process, in case leaving is stuck
	}()
	cli.Exit("meshctl", run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is where a command reads and writes. stdout and stderr are consoles:
// whole lines from many goroutines (handlers, the peer's logger) never
// interleave mid-line.
type env struct {
	stdin          io.Reader
	stdout, stderr *cli.Console
	tty            bool // stdout is a terminal
}

// command is one of meshctl's commands.
type command struct {
	name    string
	aliases []string
	summary string
	// flags returns the command's flag set, with its usage text, and the
	// function that runs the command once the flag set has parsed args
	// (positional arguments in pos).
	flags func() (*cli.Flags, func(ctx context.Context, e *env, pos []string) error)
}

// commands are listed in this order by `meshctl help`.
var commands = []*command{
	{name: "members", summary: "list the members: endpoints, services, subscriptions, keys, message types", flags: membersFlags},
	{name: "send", summary: "send a message to one instance of SERVICE, and wait for its acknowledgement", flags: sendFlags},
	{name: "publish", summary: "publish an event to every subscriber group of TOPIC, and wait for their acknowledgements", flags: publishFlags},
	{name: "request", summary: "send a request to SERVICE and print its reply", flags: requestFlags},
	{name: "subscribe", aliases: []string{"tail"}, summary: "print the events of topics matching PATTERN as they arrive", flags: subscribeFlags},
	{name: "serve", summary: "handle SERVICE: print its messages, answer its requests", flags: serveFlags},
	{name: "api", summary: "print the AsyncAPI 3.0 document of the cluster", flags: apiFlags},
	{name: "bench", summary: "measure sends to SERVICE (or, with -local, to a receiver of its own)", flags: benchFlags},
	{name: "dashboard", summary: "serve the live web dashboard of the cluster", flags: dashboardFlags},
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name || slices.Contains(c.aliases, name) {
			return c
		}
	}
	return nil
}

// run is meshctl: args are its arguments (the command first). It returns
// the command's error; a *cli.UsageError for a mistake on the command line
// or for help (see cli.ExitCode).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{stdin: stdin, stdout: cli.NewConsole(stdout), stderr: cli.NewConsole(stderr), tty: isTerminal(stdout)}
	if len(args) == 0 {
		return &cli.UsageError{Err: errors.New("no command given"), Usage: "no command given\n" + overview()}
	}
	switch name := args[0]; name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			c := lookup(args[1])
			if c == nil {
				return unknownCommand(args[1])
			}
			fs, _ := c.flags()
			return fs.Parse([]string{"-h"})
		}
		return &cli.UsageError{Err: flag.ErrHelp, Usage: overview()}
	}
	c := lookup(args[0])
	if c == nil {
		return unknownCommand(args[0])
	}
	fs, do := c.flags()
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	err = do(ctx, e, pos)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	return err
}

func unknownCommand(name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	if strings.HasPrefix(name, "-") {
		msg = fmt.Sprintf("flag %s given before the command: the command comes first, then its flags (meshctl members %s ...)", name, name)
	}
	return &cli.UsageError{Err: errors.New(msg), Usage: msg + "\n" + overview()}
}

// parse parses args with fs, flags and positional arguments in any order
// (meshctl send orders -body 42, or meshctl send -body 42 orders); after
// "--" everything is positional.
func parse(fs *cli.Flags, args []string) ([]string, error) {
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
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

func overview() string {
	var b strings.Builder
	b.WriteString(`Usage: meshctl COMMAND [flags] [ARG]

meshctl joins a meshmq cluster as a peer of its own, does one thing, and
leaves. Commands:

`)
	for _, c := range commands {
		head := c.name
		if arg := commandArg(c.name); arg != "" {
			head += " " + arg
		}
		fmt.Fprintf(&b, "  %-19s %s", head, c.summary)
		if len(c.aliases) > 0 {
			fmt.Fprintf(&b, " (alias: %s)", strings.Join(c.aliases, ", "))
		}
		b.WriteString("\n")
	}
	b.WriteString(`  help [COMMAND]      this text, or a command's flags and examples

Every command joins the cluster with -join (the gossip address of any member)
and takes the same flags to do so: -join, -gossip, -data, -cluster, -profile,
-name, -timeout, -expect, -v, and for a secured cluster -curve-key, -allow
and -gossip-key (or -gossip-key-hex), as examples/cluster does. Instead of
gossip, -peers NAME=tcp://HOST:PORT is a static member list (send, request,
bench). Results go to standard output; waiting and errors to standard error.

Examples, against the cluster of examples/cluster (a and b serve orders):

  go run ./examples/meshctl members -join 127.0.0.1:7946
  go run ./examples/meshctl send orders -body 42 -join 127.0.0.1:7946
  go run ./examples/meshctl subscribe 'orders.>' -join 127.0.0.1:7946
  go run ./examples/meshctl publish orders.created -body '{"id":1}' -join 127.0.0.1:7946
  go run ./examples/meshctl api -join 127.0.0.1:7946 -format json
  go run ./examples/meshctl bench -local -n 100000

Run 'meshctl help COMMAND' or 'meshctl COMMAND -h' for a command's flags.
`)
	return b.String()
}

// commandArg is the positional argument a command takes, for the overview.
func commandArg(name string) string {
	switch name {
	case "send", "request", "serve":
		return "SERVICE"
	case "publish":
		return "TOPIC"
	case "subscribe":
		return "PATTERN"
	case "bench":
		return "[SERVICE]"
	}
	return ""
}
