package openrouter

import (
	"net"
	"syscall"
)

// setLowWater sets the socket's SO_RCVLOWAT: the kernel reports it
// readable, and wakes a reader waiting on it, only once n bytes are
// waiting (or at a close, reset or error).
func setLowWater(c *net.TCPConn, n int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	}); err != nil {
		return err
	}
	return serr
}
