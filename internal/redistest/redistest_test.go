package redistest_test

import (
	"net"
	"testing"

	"github.com/councilhq/council/internal/redistest"
)

func TestStartStopRestart(t *testing.T) {
	s := redistest.Start(t)
	if _, err := net.Dial("tcp", s.Addr()); err != nil {
		t.Fatalf("dial running server: %v", err)
	}
	s.Stop()
	if c, err := net.Dial("tcp", s.Addr()); err == nil {
		c.Close()
		t.Fatal("stopped server still accepts connections")
	}
	s.Restart()
	if _, err := net.Dial("tcp", s.Addr()); err != nil {
		t.Fatalf("dial restarted server: %v", err)
	}
}
