package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/councilhq/council/orchestrator"
)

// pausingCouncil emits three events, waits for release, then the rest.
type pausingCouncil struct {
	release chan struct{}
	mu      sync.Mutex
	calls   int
	emitted chan struct{}
}

func (f *pausingCouncil) Consult(ctx context.Context, req orchestrator.Request, emit func(orchestrator.Event) error) error {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	id, _ := orchestrator.ConsultationIDFrom(ctx)
	for i, p := range []any{
		&orchestrator.ConsultStarted{Tier: "cost", Council: []string{"a", "b"}, Chairman: "c", RequestID: req.RequestID},
		&orchestrator.StageStarted{Stage: orchestrator.StageCollect, Models: []string{"a", "b"}},
		&orchestrator.ModelAnswered{Model: "a", Content: "blue", Latency: time.Second},
		&orchestrator.ModelAnswered{Model: "b", Content: "sky", Latency: time.Second},
		&orchestrator.FinalAnswer{Model: "c", Content: "Rayleigh scattering.", Latency: time.Second},
		&orchestrator.ConsultCompleted{Duration: 2 * time.Second},
	} {
		if i == 3 {
			close(f.emitted)
			select {
			case <-f.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := emit(orchestrator.Event{Sequence: uint64(i + 1), ConsultationID: id, Payload: p}); err != nil {
			return err
		}
	}
	return nil
}

// proxy forwards TCP connections to target until cut, which closes every
// connection open so far, as a proxy's idle timeout or a network change
// does.
type proxy struct {
	lis    net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{lis: lis, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { _ = lis.Close(); p.cut(); p.wg.Wait() })
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.lis.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(out, in); _ = out.Close() }()
		go func() { defer p.wg.Done(); _, _ = io.Copy(in, out); _ = in.Close() }()
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func TestConsultResumesABrokenStream(t *testing.T) {
	fake := &pausingCouncil{release: make(chan struct{}), emitted: make(chan struct{})}
	px := newProxy(t, serve(t, fake))
	go func() {
		<-fake.emitted
		time.Sleep(100 * time.Millisecond) // let event 3 reach the client
		px.cut()
		time.Sleep(100 * time.Millisecond)
		close(fake.release)
	}()
	out, errOut, err := ctlWith(t, stdio{in: strings.NewReader("")}, nil, "--addr", px.lis.Addr().String(), "consult", "q")
	if err != nil {
		t.Fatalf("consult: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if !strings.Contains(errOut, "stream broke") || !strings.Contains(errOut, "after event 3") {
		t.Errorf("stderr does not report the resumption:\n%s", errOut)
	}
	// Every event is printed once, in order.
	for _, want := range []string{"consultation ", "a answered", "b answered", "final answer by c", "completed in 2s"} {
		if n := strings.Count(out, want); n != 1 {
			t.Errorf("output has %q %d times, want once:\n%s", want, n, out)
		}
	}
	if strings.Index(out, "a answered") > strings.Index(out, "b answered") {
		t.Errorf("events out of order:\n%s", out)
	}
	if fake.calls != 1 {
		t.Errorf("the council ran %d times, want once", fake.calls)
	}
}

func TestConsultNoResume(t *testing.T) {
	fake := &pausingCouncil{release: make(chan struct{}), emitted: make(chan struct{})}
	px := newProxy(t, serve(t, fake))
	go func() {
		<-fake.emitted
		time.Sleep(100 * time.Millisecond)
		px.cut()
	}()
	_, errOut, err := ctlWith(t, stdio{in: strings.NewReader("")}, nil, "--addr", px.lis.Addr().String(), "consult", "q", "--no-resume")
	var se *statusError
	if !errors.As(err, &se) || se.st.Code() != codes.Unavailable || strings.Contains(errOut, "stream broke") {
		t.Fatalf("consult --no-resume = %v, stderr %q; want Unavailable at once", err, errOut)
	}
}

func TestWatchCommand(t *testing.T) {
	fake := &pausingCouncil{release: make(chan struct{}), emitted: make(chan struct{})}
	close(fake.release)
	addr := serve(t, fake)
	out, err := ctl(t, "--addr", addr, "consult", "q", "--json")
	if err != nil {
		t.Fatal(err)
	}
	id := out[strings.Index(out, `"consultationId":"`)+len(`"consultationId":"`):]
	id = id[:strings.IndexByte(id, '"')]
	got, err := ctl(t, "--addr", addr, "watch", id, "--after", "3")
	if err != nil {
		t.Fatalf("watch: %v\n%s", err, got)
	}
	if strings.Contains(got, "a answered") || !strings.Contains(got, "b answered") || !strings.Contains(got, "completed in 2s") {
		t.Errorf("watch --after 3 printed:\n%s", got)
	}
	_, err = ctl(t, "--addr", addr, "watch", "nope")
	var se *statusError
	if !errors.As(err, &se) || se.st.Code() != codes.NotFound || !strings.Contains(err.Error(), "CONSULTATION_NOT_FOUND") {
		t.Errorf("watch of an unknown id = %v", err)
	}
	if _, err := ctl(t, "--addr", addr, "watch"); err == nil || !strings.Contains(err.Error(), "one consultation id") {
		t.Errorf("watch without an id = %v", err)
	}
}
