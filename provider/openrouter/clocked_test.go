package openrouter

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// clockedPair returns a clocked client end of a loopback TCP connection,
// read at ticks of tick, and the server end, with Nagle off so that each of
// its writes leaves as a segment of its own.
func clockedPair(t *testing.T, tick time.Duration) (*clockedConn, *net.TCPConn) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the clock is used on Linux only")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := lis.Accept()
		accepted <- c
	}()
	raw, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, _ := (<-accepted).(*net.TCPConn)
	if server == nil {
		t.Fatal("accept failed")
	}
	if err := server.SetNoDelay(true); err != nil {
		t.Fatal(err)
	}
	c, ok := newClockedConn(raw, tick).(*clockedConn)
	if !ok {
		t.Fatalf("a TCP connection with a tick of %v is not clocked", tick)
	}
	t.Cleanup(func() {
		c.Close()
		server.Close()
	})
	return c, server
}

// readWithin reads from c until want bytes have come, failing if that takes
// longer than limit, and returns the number of Read calls that returned data.
func readWithin(t *testing.T, c net.Conn, want int, limit time.Duration) int {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(limit)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	got, reads := 0, 0
	for got < want {
		n, err := c.Read(buf)
		if n > 0 {
			got += n
			reads++
		}
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", got, want, err)
		}
	}
	return reads
}

func TestClockedConnReadsSmallPiecesWithoutWaitingForTheLowWaterMark(t *testing.T) {
	c, server := clockedPair(t, time.Millisecond)
	// Ten bytes are far below the 64 KiB that would wake the reader: only
	// the clock can deliver them.
	if _, err := server.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	readWithin(t, c, 10, 5*time.Second)
}

func TestClockedConnGathersTheSegmentsOfATick(t *testing.T) {
	const pieces = 40
	c, server := clockedPair(t, 50*time.Millisecond)
	go func() {
		for range pieces {
			if _, err := server.Write([]byte("a token ")); err != nil {
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	// Forty segments 0.2 ms apart take about 8 ms: one or two ticks of
	// 50 ms. Read as they arrive, each would be a read of its own.
	if reads := readWithin(t, c, pieces*len("a token "), 5*time.Second); reads > pieces/4 {
		t.Errorf("%d reads for %d segments, want at most %d", reads, pieces, pieces/4)
	}
}

func TestClockedConnReadsABurstAtOnce(t *testing.T) {
	// A tick of a minute: only the low-water mark can wake the reader.
	c, server := clockedPair(t, time.Minute)
	burst := make([]byte, lowWater)
	go func() { _, _ = server.Write(burst) }()
	readWithin(t, c, 1, 5*time.Second)
}

func TestClockedConnReportsTheEndAtOnce(t *testing.T) {
	c, server := clockedPair(t, time.Minute)
	if _, err := server.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	server.Close()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "last words" {
		t.Fatalf("read %q, %v; want the last words and the end", got, err)
	}
}

func TestClockedConnKeepsItsUsersDeadline(t *testing.T) {
	c, _ := clockedPair(t, time.Millisecond)
	const wait = 30 * time.Millisecond
	began := time.Now()
	if err := c.SetReadDeadline(began.Add(wait)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(make([]byte, 16))
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %d, %v; want the deadline's error", n, err)
	}
	if waited := time.Since(began); waited < wait {
		t.Errorf("Read gave up after %v, before the deadline of %v", waited, wait)
	}
}

// endWaitingRead starts a read of c that waits, does end, and checks that
// the read ends with want.
func endWaitingRead(t *testing.T, c net.Conn, end func(), want error) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 16))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the read start waiting
	end()
	select {
	case err := <-done:
		if !errors.Is(err, want) {
			t.Fatalf("Read = %v, want %v", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting read did not end")
	}
}

func TestClockedConnWakesAWaitingReadForANewDeadline(t *testing.T) {
	// A tick of a minute: the read would wait for it but for the deadline.
	c, _ := clockedPair(t, time.Minute)
	endWaitingRead(t, c, func() {
		if err := c.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
			t.Error(err)
		}
	}, os.ErrDeadlineExceeded)
}

func TestClockedConnCloseEndsAWaitingRead(t *testing.T) {
	c, _ := clockedPair(t, time.Minute)
	endWaitingRead(t, c, func() { c.Close() }, net.ErrClosed)
}

func TestClockedConnWriteBringsAQuietConnectionBackToTheFastTick(t *testing.T) {
	c, server := clockedPair(t, time.Millisecond)
	c.mu.Lock()
	c.active = time.Now().Add(-time.Hour) // quiet: reads wait for the idle tick
	c.mu.Unlock()
	if _, err := c.Write([]byte("a request")); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	wake := c.wake(time.Now())
	c.mu.Unlock()
	if until := time.Until(wake); until > 2*time.Millisecond {
		t.Errorf("after a write the next read waits %v, want at most a fast tick", until)
	}
	if _, err := io.ReadFull(server, make([]byte, len("a request"))); err != nil {
		t.Fatal(err)
	}
}

func TestNextTick(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		now, quiet time.Duration // now after base; how long since active
		tick, want time.Duration // want: the tick after base
	}{
		{"busy, mid-tick", 1500 * time.Microsecond, 0, time.Millisecond, 2 * time.Millisecond},
		{"busy, on a tick", 2 * time.Millisecond, 0, time.Millisecond, 3 * time.Millisecond},
		{"just before quiet", 1500 * time.Microsecond, quietAfter - time.Nanosecond, time.Millisecond, 2 * time.Millisecond},
		{"quiet", 1500 * time.Microsecond, quietAfter, time.Millisecond, idleTick},
		{"quiet, a tick longer than the idle one", 1500 * time.Microsecond, time.Hour, time.Second, time.Second},
	} {
		now := base.Add(tc.now)
		if got := nextTick(now, now.Add(-tc.quiet), tc.tick).Sub(base); got != tc.want {
			t.Errorf("%s: next tick at %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNewClockedConnLeavesOtherConnectionsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := newClockedConn(a, time.Millisecond); got != a {
		t.Errorf("a pipe came back as %T", got)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		if c, err := lis.Accept(); err == nil {
			c.Close()
		}
	}()
	raw, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if got := newClockedConn(raw, 0); got != raw {
		t.Errorf("a tick of 0 gave %T", got)
	}
}

// receive reads exactly len(want) bytes from server within limit and
// checks them.
func receive(t *testing.T, server net.Conn, want string, limit time.Duration) {
	t.Helper()
	if err := server.SetReadDeadline(time.Now().Add(limit)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(server, got); err != nil || string(got) != want {
		t.Fatalf("the server read %q, %v; want %q", got, err, want)
	}
}

func TestClockedConnSmallWritesWaitForTheReadersWakeUp(t *testing.T) {
	c, server := clockedPair(t, time.Millisecond)
	for _, s := range []string{"window ", "update"} {
		if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	// Nobody reads the client end: the small writes wait.
	if err := server.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, err := server.Read(make([]byte, 64)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server read %d bytes (%v) before the client's reader woke", n, err)
	}
	go func() { _, _ = c.Read(make([]byte, 64)) }() // ends at cleanup
	receive(t, server, "window update", 5*time.Second)
}

func TestClockedConnSmallWritesWaitTheirHoldWhileTheReaderWakes(t *testing.T) {
	c, server := clockedPair(t, time.Millisecond)
	go func() { _, _ = c.Read(make([]byte, 64)) }() // wakes every tick; ends at cleanup
	wrote := time.Now()
	if _, err := c.Write([]byte("window update")); err != nil {
		t.Fatal(err)
	}
	receive(t, server, "window update", 5*time.Second)
	if waited := time.Since(wrote); waited < writeHold {
		t.Errorf("a small write left after %v, before its hold of %v", waited, writeHold)
	}
}

func TestClockedConnLargeWriteSendsWhatWaitsFirst(t *testing.T) {
	c, server := clockedPair(t, time.Millisecond)
	large := string(make([]byte, smallWrite+1))
	for _, s := range []string{"small", large} {
		if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	receive(t, server, "small"+large, 5*time.Second)
}

func TestClockedConnQuietConnectionWritesAtOnce(t *testing.T) {
	c, server := clockedPair(t, time.Millisecond)
	c.mu.Lock()
	c.active = time.Now().Add(-time.Hour)
	c.mu.Unlock()
	if _, err := c.Write([]byte("a new request")); err != nil {
		t.Fatal(err)
	}
	receive(t, server, "a new request", 5*time.Second)
}

func TestClockedConnCloseSendsWhatWaits(t *testing.T) {
	c, server := clockedPair(t, time.Millisecond)
	if _, err := c.Write([]byte("goodbye")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := server.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(server); err != nil || string(got) != "goodbye" {
		t.Fatalf("the server read %q, %v; want goodbye and the end", got, err)
	}
}

func TestClockedConnKeepsTheErrorOfAWaitingWrite(t *testing.T) {
	c, _ := clockedPair(t, time.Millisecond)
	if _, err := c.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	c.tcp.Close()
	c.flush()
	if _, err := c.Write([]byte("after")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after a failed write of what waited = %v, want its error", err)
	}
}
