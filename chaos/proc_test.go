package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// proc is one peer process of a run, across its incarnations.
type proc struct {
	name  string
	role  string
	args  []string // role-specific flags
	netns string   // network namespace to run in, "" for the test's own
	log   string   // its event log
	errf  string   // its stderr, all incarnations

	inc    int       // current incarnation, 0 before the first start
	cmd    *exec.Cmd // nil while down
	exited chan struct{}
}

// start runs the next incarnation of p with the binary bin. The process is
// in its own process group, and gets SIGKILL if the test process dies.
func (p *proc) start(bin string) error {
	if p.cmd != nil {
		return fmt.Errorf("%s#%d is running", p.name, p.inc)
	}
	p.inc++
	args := append([]string{"-role", p.role, "-name", p.name, "-inc", strconv.Itoa(p.inc), "-log", p.log}, p.args...)
	name := bin
	if p.netns != "" {
		args = append([]string{"netns", "exec", p.netns, bin}, args...)
		name = ipPath
	}
	errf, err := os.OpenFile(p.errf, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer errf.Close()
	fmt.Fprintf(errf, "--- %s#%d at %s\n", p.name, p.inc, time.Now().Format(time.StampMicro))
	cmd := exec.Command(name, args...)
	cmd.Stderr = errf
	cmd.Stdout = errf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s#%d: %w", p.name, p.inc, err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	exited := p.exited
	go func() {
		cmd.Wait()
		close(exited)
	}()
	return nil
}

// signal sends sig to p's process group.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd != nil {
		syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// wait waits up to d for p to exit, then kills it; it reports whether p
// exited on its own.
func (p *proc) wait(d time.Duration) bool {
	if p.cmd == nil {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	ok := true
	select {
	case <-p.exited:
	case <-t.C:
		ok = false
		p.signal(syscall.SIGKILL)
		<-p.exited
	}
	p.cmd = nil
	return ok
}

// running reports whether p's current incarnation is alive.
func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stderrTail is the end of p's stderr file, for failure messages.
func (p *proc) stderrTail() string {
	b, _ := os.ReadFile(p.errf)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return fmt.Sprintf("%s (%s):\n%s", p.name, filepath.Base(p.errf), b)
}
