// Command chat is a terminal chat between meshmq peers, one per process,
// with no server: every peer publishes what its user types to the topic of
// its room, chat.<room>, and subscribes to it, without a subscriber group,
// so that everyone in the room gets every line. Peers find each other by
// gossip (discovery.Gossip).
//
// Two terminals (the first prints the gossip address the others -join):
//
//	go run ./examples/chat -name alice -gossip 127.0.0.1:7946
//	go run ./examples/chat -name bob -join 127.0.0.1:7946
//
// Type a line to say it in the current room; it shows on the others'
// terminals as "[lobby] alice: hello". Commands:
//
//	/join ROOM   leave the current room for ROOM (a single word)
//	/who         list the peers in the cluster and the rooms they are in
//	/quit        leave the cluster and exit (as do Ctrl-D and Ctrl-C)
//
// Lines starting with "*" are the chat's own notices: who joins and leaves
// the room, and lines nobody heard.
//
// Secured, with the keys examples/keygen writes, every connection between
// chats is CURVE-encrypted and authenticated, gossip is encrypted, and only
// the peers whose keys are in -allow take part:
//
//	go run ./examples/keygen -dir keys alice bob
//	go run ./examples/chat -name alice -gossip 127.0.0.1:7946 \
//		-curve-key keys/alice.key_secret -allow keys/allowed -gossip-key keys/gossip.key
//	go run ./examples/chat -name bob -join 127.0.0.1:7946 \
//		-curve-key keys/bob.key_secret -allow keys/allowed -gossip-key keys/gossip.key
//
// Each chat says at the start whether it is secured, and when it refuses a
// peer whose key is not allowed.
//
// Flags: -name (default: the user name), -room (default lobby), -listen
// (data endpoint, default tcp://127.0.0.1:0), -gossip (gossip bind address,
// default 127.0.0.1:0), -join (comma-separated gossip addresses of peers
// already in the cluster), -cluster, -curve-key FILE (this peer's secret
// key file), -allow PATHS (the public keys admitted; required with
// -curve-key), -gossip-key FILE (the gossip key file).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"

	"github.com/meshmq/meshmq/examples/internal/cli"
)

// config is the parsed and checked command line.
type config struct {
	name    string // shown to the others; need not be unique
	room    string
	listen  string   // data endpoint
	gossip  string   // gossip bind address
	join    []string // gossip addresses of peers to join
	cluster string   // gossip cluster name: chats of other clusters are ignored

	// security holds -curve-key, -allow and -gossip-key; run loads the
	// files they name.
	security cli.SecurityFlags
}

func main() {
	cfg, err := parseArgs(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2) // the flag set printed the reason and the usage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the process, in case closing is stuck
	}()
	if err := run(ctx, os.Stdin, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

const usageHead = `Usage: go run ./examples/chat [-name NAME] [-room ROOM] [-join HOST:PORT,...] [flags]

A terminal chat between peers. Start the first one, then join it from other
terminals with the gossip address it prints:

  go run ./examples/chat -name alice -gossip 127.0.0.1:7946
  go run ./examples/chat -name bob -join 127.0.0.1:7946

Type to talk; /join ROOM, /who and /quit are commands.

Secured, with the keys of examples/keygen (go run ./examples/keygen -dir keys alice bob):

  go run ./examples/chat -name alice -gossip 127.0.0.1:7946 -curve-key keys/alice.key_secret -allow keys/allowed -gossip-key keys/gossip.key
  go run ./examples/chat -name bob -join 127.0.0.1:7946 -curve-key keys/bob.key_secret -allow keys/allowed -gossip-key keys/gossip.key

Flags:
`

// parseArgs parses the command line; on a mistake, or for -h, it prints
// the reason and the usage to errOut.
func parseArgs(args []string, errOut io.Writer) (config, error) {
	c, err := parseFlags(args)
	var ue *cli.UsageError
	if errors.As(err, &ue) {
		io.WriteString(errOut, ue.Usage)
	}
	return c, err
}

// parseFlags parses the command line; its mistakes, and -h, are
// *cli.UsageError.
func parseFlags(args []string) (config, error) {
	fs := cli.NewFlagSet("chat", usageHead)
	var c config
	var join string
	fs.StringVar(&c.name, "name", defaultName(), "your name in the chat")
	fs.StringVar(&c.room, "room", "lobby", "the room to start in")
	fs.StringVar(&c.listen, "listen", "tcp://127.0.0.1:0", "data endpoint, tcp://host:port (port 0: any free port)")
	fs.StringVar(&c.gossip, "gossip", "127.0.0.1:0", "gossip bind address, host:port (port 0: any free port)")
	fs.StringVar(&join, "join", "", "comma-separated gossip addresses of peers to join (none: start a new cluster)")
	fs.StringVar(&c.cluster, "cluster", "", "cluster name: peers of other clusters on the same network are ignored")
	c.security.Register(fs.FlagSet)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	fail := func(format string, a ...any) (config, error) {
		return c, fs.Fail(format, a...)
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q: every setting is a flag", fs.Arg(0))
	}
	if err := checkName(c.name); err != nil {
		return fail("-name: %v", err)
	}
	if err := checkRoom(c.room); err != nil {
		return fail("-room: %v", err)
	}
	if hp, ok := strings.CutPrefix(c.listen, "tcp://"); !ok || cli.CheckHostPort(hp) != nil {
		return fail("-listen %q: want tcp://host:port, such as tcp://127.0.0.1:7001", c.listen)
	}
	if cli.CheckHostPort(c.gossip) != nil {
		return fail("-gossip %q: want host:port, such as 127.0.0.1:7946", c.gossip)
	}
	for _, part := range cli.SplitList(join) {
		if cli.CheckHostPort(part) != nil {
			return fail("-join %q: want comma-separated host:port gossip addresses", part)
		}
		c.join = append(c.join, part)
	}
	if err := c.security.Check(); err != nil {
		return fail("%v", err)
	}
	return c, nil
}

// defaultName is the user's login name, or "guest".
func defaultName() string {
	if u, err := user.Current(); err == nil && checkName(u.Username) == nil {
		return u.Username
	}
	if n := os.Getenv("USER"); checkName(n) == nil {
		return n
	}
	return "guest"
}
