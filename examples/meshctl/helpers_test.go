package main

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/peertest"
	"github.com/meshmq/meshmq/peer"
)

// testCluster is a gossip cluster of real peers on 127.0.0.1, with a
// cluster name of the test's own.
type testCluster struct {
	t    *testing.T
	name string
	seed string // the first peer's gossip address
}

func newCluster(t *testing.T) *testCluster {
	return &testCluster{t: t, name: testutil.Cluster(t)}
}

// peer starts a peer named name in the cluster, joining the first one;
// setup registers its handlers before the test goes on. It is closed at the
// end of the test.
func (c *testCluster) peer(name string, setup func(p *peer.Peer), opts ...peer.Option) *peer.Peer {
	c.t.Helper()
	gc := discovery.GossipConfig{Bind: "127.0.0.1:0", Cluster: c.name, Profile: discovery.ProfileFast}
	if c.seed != "" {
		gc.Seeds = []string{c.seed}
	}
	p := peertest.StartDefaults(c.t, name, append([]peer.Option{peer.WithGossip(gc)}, opts...)...)
	if c.seed == "" {
		c.seed = p.Discovery().(*discovery.Gossip).Addr()
	}
	if setup != nil {
		setup(p)
	}
	return p
}

// args are the flags that join the cluster, after the command's own.
func (c *testCluster) args(args ...string) []string {
	return append(args, "-join", c.seed, "-cluster", c.name, "-timeout", testutil.Deadline.String())
}

// waitSees waits until p sees a member named name for which ok holds.
func waitSees(t *testing.T, p *peer.Peer, what string, ok func(discovery.Member) bool) {
	t.Helper()
	testutil.WaitFor(t, p.Name()+" seeing "+what, func() bool {
		return slices.ContainsFunc(p.Members(), ok)
	})
}

// result is what a run of meshctl printed, and its exit status.
type result struct {
	stdout, stderr string
	code           int
	err            error
}

// meshctl runs meshctl with args to the end, with stdin as its input.
func meshctl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	code := cli.ExitCode("meshctl", err, &stdout, &stderr)
	r := result{stdout.String(), stderr.String(), code, err}
	if testing.Verbose() {
		t.Logf("meshctl %s: exit %d\nstdout:\n%sstderr:\n%s", strings.Join(args, " "), code, r.stdout, r.stderr)
	}
	return r
}

// mustRun runs meshctl and fails the test unless it succeeds.
func mustRun(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := meshctl(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("meshctl %s: exit %d: %v\nstdout:\n%sstderr:\n%s", strings.Join(args, " "), r.code, r.err, r.stdout, r.stderr)
	}
	return r
}

// background is a run of meshctl in a goroutine, such as subscribe.
type background struct {
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan error
}

func startMeshctl(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- run(ctx, args, strings.NewReader(""), b.stdout, b.stderr) }()
	t.Cleanup(func() {
		cancel()
		<-b.done // the error, if any, was the test's to check
	})
	return b
}

// wait waits for the run to end and returns its error.
func (b *background) wait(t *testing.T) error {
	t.Helper()
	var err error
	testutil.WaitFor(t, "meshctl to end", func() bool {
		select {
		case err = <-b.done:
			b.done <- err // for the cleanup
			return true
		default:
			return false
		}
	}, func() { t.Logf("stdout:\n%s\nstderr:\n%s", b.stdout, b.stderr) })
	return err
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) has(sub string) bool { return strings.Contains(s.String(), sub) }

var _ io.Writer = (*syncBuffer)(nil)
