package transport

import (
	"net"
	"syscall"
	"unsafe"
)

// sockBuf reads conn's socket send buffer size (SO_SNDBUF). The kernel may
// grow it later (autotuning): the first value is a lower bound.
func sockBuf(conn net.Conn) (int, bool) {
	rc, ok := rawConn(conn)
	if !ok {
		return 0, false
	}
	size, err := 0, error(nil)
	if cerr := rc.Control(func(fd uintptr) {
		size, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	}); cerr != nil || err != nil {
		return 0, false
	}
	return size, true
}

// sockQueued reports how many bytes wait in conn's socket send queue
// (TIOCOUTQ): written, not yet acknowledged by the remote side.
func sockQueued(conn net.Conn) (int, bool) {
	rc, ok := rawConn(conn)
	if !ok {
		return 0, false
	}
	var n int32
	var errno syscall.Errno
	if cerr := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
	}); cerr != nil || errno != 0 {
		return 0, false
	}
	return int(n), true
}

func rawConn(conn net.Conn) (syscall.RawConn, bool) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	return rc, err == nil
}
