// Package pypeer runs a test peer written in Python on Debian's python3-zmq
// (libzmq), which works only under /usr/bin/python3. The script prints one
// JSON object per line, each with an "event" field; the test reads them in
// order, each within a deadline. A missing python3-zmq fails the test: it
// never skips.
package pypeer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"testing"
	"time"
)

// Python is the interpreter that has python3-zmq.
const Python = "/usr/bin/python3"

// Hint tells how to get what the scripts need.
const Hint = "run scripts/test.sh, which installs python3-zmq and python3-msgpack"

const (
	runTime   = 60 * time.Second // a whole script run
	eventWait = 25 * time.Second // one line of its output
)

// EventWait is how long Next waits for a line: also a fair deadline for
// what the test waits on from the script meanwhile.
const EventWait = eventWait

// Event is a script's output line.
type Event interface{ EventName() string }

// Require fails t unless Python runs check (for example "import zmq").
func Require(t testing.TB, check, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, Python, "-c", check).CombinedOutput(); err != nil {
		t.Fatalf("%s cannot %s: %v\n%s\n%s", Python, what, err, out, Hint)
	}
}

// Peer is a running script.
type Peer[E Event] struct {
	cmd     *exec.Cmd
	events  chan E       // closed at the end of its stdout
	readErr error        // set before events closes
	stderr  bytes.Buffer // read only after Wait
	waited  bool
	seen    []E
}

// Start runs script with args; a cleanup kills it if the test did not Wait.
func Start[E Event](t testing.TB, script string, args ...string) *Peer[E] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTime)
	p := &Peer[E]{events: make(chan E, 16)}
	p.cmd = exec.CommandContext(ctx, Python, append([]string{script}, args...)...)
	p.cmd.Stderr = &p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s %s: %v", Python, script, err)
	}
	go func() {
		defer close(p.events)
		dec := json.NewDecoder(out)
		dec.UseNumber()
		for {
			var ev E
			if err := dec.Decode(&ev); err != nil {
				if !errors.Is(err, io.EOF) {
					p.readErr = err
					io.Copy(io.Discard, out) // let the script finish writing
				}
				return
			}
			p.events <- ev
		}
	}()
	t.Cleanup(func() {
		if !p.waited {
			cancel() // kills the script: its stdout ends
			for range p.events {
			}
			err := p.cmd.Wait()
			t.Logf("libzmq peer killed (%v); its stderr:\n%s", err, p.stderr.String())
		}
		cancel()
	})
	return p
}

// Next returns the script's next output line, which must be a want event.
func (p *Peer[E]) Next(t testing.TB, want string) E {
	t.Helper()
	timer := time.NewTimer(eventWait)
	defer timer.Stop()
	select {
	case ev, ok := <-p.events:
		if !ok {
			err := p.cmd.Wait()
			p.waited = true
			t.Fatalf("the libzmq peer's output ended before a %q line (exit: %v, read error: %v); its stderr:\n%s",
				want, err, p.readErr, p.stderr.String())
		}
		if ev.EventName() != want {
			t.Fatalf("the libzmq peer printed a %q line, want %q: %+v", ev.EventName(), want, ev)
		}
		p.seen = append(p.seen, ev)
		return ev
	case <-timer.C:
		t.Fatalf("no %q line from the libzmq peer within %v", want, eventWait)
	}
	panic("unreachable")
}

// Seen returns the lines Next returned, in order.
func (p *Peer[E]) Seen() []E { return p.seen }

// Wait waits for the script to end, which must print nothing more and exit 0.
func (p *Peer[E]) Wait(t testing.TB) {
	t.Helper()
	for ev := range p.events {
		t.Errorf("the libzmq peer printed more after its last line: %+v", ev)
	}
	err := p.cmd.Wait()
	p.waited = true
	if err != nil || p.readErr != nil {
		t.Fatalf("the libzmq peer failed: %v (output: %v); its stderr:\n%s", err, p.readErr, p.stderr.String())
	}
}
