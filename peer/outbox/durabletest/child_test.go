package durabletest

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/pglogtail"
	"github.com/meshmq/meshmq/peer/outbox/postgres"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

// The child process's settings, passed in its environment.
const (
	envRole  = "MESHMQ_DURABLETEST_ROLE"  // "sender" or "relay"
	envStore = "MESHMQ_DURABLETEST_STORE" // "sqlite:" + path or "postgres:" + DSN
	envRelay = "MESHMQ_DURABLETEST_RELAY" // "poll" (the store's) or "logtail"
	envRX    = "MESHMQ_DURABLETEST_RX"    // the receiver's endpoint
	envRange = "MESHMQ_DURABLETEST_RANGE" // "from,to": the messages a sender sends
)

// keys is how many ordering keys the messages spread over.
const keys = 16

// message i: ID m-i, key i%keys, body i.
func message(i int) *channel.Message {
	return &channel.Message{ID: fmt.Sprintf("m-%06d", i), Kind: channel.Command, Channel: "work",
		Key: strconv.Itoa(i % keys), Body: binary.BigEndian.AppendUint64(nil, uint64(i))}
}

func index(m *channel.Message) int { return int(binary.BigEndian.Uint64(m.Body)) }

// openStore opens the store a spec names.
func openStore(ctx context.Context, spec string) (interface {
	outbox.Store
	outbox.Claimer
	outbox.TxAppender
}, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "sqlite":
		return sqlite.Open(ctx, arg)
	case "postgres":
		return postgres.Open(ctx, arg)
	}
	return nil, fmt.Errorf("unknown store %q", spec)
}

// childMain is the killed process: a sender that sends its range durably,
// printing "sent i" once Send returned, or a relay that relays the outbox.
// It prints "restored n" at start and "done" when nothing is in flight, and
// runs until its stdin closes (or it is killed).
func childMain() int {
	ctx := context.Background()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	spec := os.Getenv(envStore)
	st, err := openStore(ctx, spec)
	if err != nil {
		return fail(err)
	}
	rx := discovery.Member{Name: "rx", Endpoint: os.Getenv(envRX), Services: []string{"work"}}
	opts := []peer.Option{peer.WithName(os.Getenv(envRole)), peer.WithStore(st),
		peer.WithDiscovery(discovery.NewStatic(rx)), peer.WithLogger(testutil.Logger())}
	if os.Getenv(envRelay) == "logtail" {
		_, dsn, _ := strings.Cut(spec, ":")
		tail, err := pglogtail.New(ctx, dsn, pglogtail.WithLogger(testutil.Logger()))
		if err != nil {
			return fail(err)
		}
		opts = append(opts, peer.WithRelay(tail))
	}
	p, err := peer.New(ctx, opts...)
	if err != nil {
		return fail(err)
	}
	fmt.Printf("restored %d\n", p.Stats().Restored)
	if os.Getenv(envRole) == "sender" {
		var from, to int
		fmt.Sscanf(os.Getenv(envRange), "%d,%d", &from, &to)
		for i := from; i < to; i++ {
			if err := p.Send(ctx, message(i)); err != nil {
				return fail(err)
			}
			fmt.Printf("sent %d\n", i)
		}
		for p.Stats().InFlight > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		fmt.Println("done")
	}
	bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
	if err := p.Close(ctx); err != nil {
		return fail(err)
	}
	return 0
}

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	mu    sync.Mutex
	lines []string
	ended chan struct{}
}

// startChild runs the test binary in a child role.
func startChild(t *testing.T, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, ended: make(chan struct{})}
	go func() {
		defer close(c.ended)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
		cmd.Wait()
	}()
	t.Cleanup(func() { c.kill() })
	return c
}

// kill ends the child with SIGKILL: no Close, nothing flushed.
func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.ended
}

// stop closes the child's stdin, so it closes its peer and exits.
func (c *child) stop(t *testing.T) {
	t.Helper()
	c.stdin.Close()
	select {
	case <-c.ended:
	case <-time.After(time.Minute):
		t.Fatal("child did not exit")
	}
	if code := c.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("child exited with %d", code)
	}
}

// said returns the value of the last line starting with prefix, and whether
// there is one.
func (c *child) said(prefix string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.lines) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(c.lines[i], prefix); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
