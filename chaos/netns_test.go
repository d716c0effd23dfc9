package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// ipPath and tcPath are iproute2's commands.
const (
	ipPath = "/usr/sbin/ip"
	tcPath = "/usr/sbin/tc"
)

// network puts each process of a run in a network namespace of its own,
// linked by a veth pair to a bridge in a hub namespace, so that its link
// can be cut and healed while the others' stay up. Namespaces are named
// with the test process's pid, and deleted at the end of the test.
type network struct {
	hub   string
	ns    map[string]string // process -> its namespace
	ip    map[string]string // process -> its address
	veth  map[string]string // process -> its link's end on the bridge
	netem bool              // whether tc's netem works here (kernel module sch_netem)
	cuts  int
}

// newNetwork creates the namespaces for the named processes. It fails the
// test, never skips it, when the test is not root.
func newNetwork(t *testing.T, names []string) *network {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("the partition suite creates network namespaces (ip netns) and must run as root, as CI does; this test runs as uid %d", os.Geteuid())
	}
	prefix := fmt.Sprintf("mmq%d", os.Getpid())
	n := &network{hub: prefix + "-hub", ns: map[string]string{}, ip: map[string]string{}, veth: map[string]string{}}
	var made []string
	t.Cleanup(func() {
		for _, ns := range made {
			if out, err := exec.Command(ipPath, "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("deleting namespace %s: %v: %s", ns, err, out)
			}
		}
	})
	addNS := func(ns string) {
		ipCmd(t, "netns", "add", ns)
		made = append([]string{ns}, made...) // the hub last
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	}
	addNS(n.hub)
	ipCmd(t, "-n", n.hub, "link", "add", "br0", "type", "bridge")
	ipCmd(t, "-n", n.hub, "link", "set", "br0", "up")
	for i, name := range names {
		ns, veth, ip := prefix+"-"+name, fmt.Sprintf("v%d", i), fmt.Sprintf("10.99.0.%d", i+2)
		addNS(ns)
		ipCmd(t, "-n", n.hub, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ipCmd(t, "-n", n.hub, "link", "set", veth, "master", "br0")
		ipCmd(t, "-n", n.hub, "link", "set", veth, "up")
		ipCmd(t, "-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
		ipCmd(t, "-n", ns, "link", "set", "eth0", "up")
		n.ns[name], n.ip[name], n.veth[name] = ns, ip, veth
	}
	// netem drops packets with the link up (a silent partition, unlike a
	// link down); without the kernel module every cut is a link down.
	if len(names) > 0 {
		v := n.veth[names[0]]
		if exec.Command(ipPath, "netns", "exec", n.hub, tcPath, "qdisc", "add", "dev", v, "root", "netem", "loss", "100%").Run() == nil {
			n.netem = true
			ipCmd(t, "netns", "exec", n.hub, tcPath, "qdisc", "del", "dev", v, "root")
		}
	}
	t.Logf("network namespaces %s-*: bridge in %s, %d processes; cuts by link down%s", prefix, n.hub, len(names),
		map[bool]string{true: " and netem loss 100% alternately", false: " (tc netem is not available here)"}[n.netem])
	return n
}

// cut isolates p: its link on the bridge goes down, or (every other cut,
// where netem works) drops every packet.
func (n *network) cut(t *testing.T, p *proc) {
	t.Helper()
	n.cuts++
	if n.netem && n.cuts%2 == 0 {
		ipCmd(t, "netns", "exec", n.hub, tcPath, "qdisc", "add", "dev", n.veth[p.name], "root", "netem", "loss", "100%")
		return
	}
	ipCmd(t, "-n", n.hub, "link", "set", n.veth[p.name], "down")
}

// heal undoes cut.
func (n *network) heal(t *testing.T, p *proc) {
	t.Helper()
	if n.netem {
		exec.Command(ipPath, "netns", "exec", n.hub, tcPath, "qdisc", "del", "dev", n.veth[p.name], "root").Run() // none after a link down
	}
	ipCmd(t, "-n", n.hub, "link", "set", n.veth[p.name], "up")
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(ipPath, args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}
