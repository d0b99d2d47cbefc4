//go:build !linux

package openrouter

import (
	"errors"
	"net"
)

// setLowWater reports that reading on a clock is not supported here: only
// Linux is known to keep a socket with little data waiting from waking
// its reader.
func setLowWater(*net.TCPConn, int) error {
	return errors.New("openrouter: SO_RCVLOWAT is used on Linux only")
}
