//go:build !linux

package transport

import "net"

// This platform cannot tell a socket's room: WriteNow never writes inline.

func sockBuf(net.Conn) (int, bool)    { return 0, false }
func sockQueued(net.Conn) (int, bool) { return 0, false }
