package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/syncbuf"
	"github.com/councilhq/council/server"
)

// buildCouncild builds councild into a temporary directory.
func buildCouncild(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "councild")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/councilhq/council/cmd/councild")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building councild: %v\n%s", err, out)
	}
	return bin
}

// process is a running councild.
type process struct {
	cmd    *exec.Cmd
	addr   string
	log    *syncbuf.Buffer
	exited chan error
}

var listeningLine = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startCouncild runs bin on a loopback port with only the given
// environment, and waits until it listens. The process is killed if it is
// still running when the test ends.
func startCouncild(t *testing.T, bin string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, log: &syncbuf.Buffer{}, exited: make(chan error, 1)}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.log.Write([]byte(line + "\n"))
			if m := listeningLine.FindStringSubmatch(line); m != nil {
				listening <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		// Killing a process that has exited already does nothing.
		_ = cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(waitTimeout):
			t.Error("councild did not exit")
		}
	})
	select {
	case p.addr = <-listening:
	case <-time.After(waitTimeout):
		t.Fatalf("councild did not start:\n%s", p.log)
	}
	return p
}

// wait waits for the process to exit and returns its exit error.
func (p *process) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("councild did not exit:\n%s", p.log)
		return nil
	}
}

// running is a consultation that has started.
type running struct {
	last *councilv1.ConsultResponse
	err  error
	done chan struct{}
}

// startConsultation starts a consultation and returns once its first event
// has arrived; the rest is read in the background.
func startConsultation(t *testing.T, ctx context.Context, client councilv1.CouncilClient) *running {
	t.Helper()
	stream, err := client.Consult(ctx, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatalf("first event: %v", err)
	}
	r := &running{last: first, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			msg, err := stream.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					r.err = err
				}
				return
			}
			r.last = msg
		}
	}()
	return r
}

// awaitNotServing waits on an open health Watch for NOT_SERVING; a stream
// that ends instead also shows the server is going away.
func awaitNotServing(t *testing.T, watch grpc.ServerStreamingClient[healthpb.HealthCheckResponse]) {
	t.Helper()
	for {
		resp, err := watch.Recv()
		if err != nil {
			t.Fatalf("health Watch ended before NOT_SERVING: %v", err)
		}
		if resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			return
		}
	}
}

// TestShutdownOfRealProcess runs councild as a process with simulated
// models and sends it SIGTERM while consultations run. Health turns
// NOT_SERVING at once; consultations that finish within the drain timeout
// complete normally; those that cannot are ended after it with UNAVAILABLE
// and SHUTTING_DOWN; the process then exits 0.
func TestShutdownOfRealProcess(t *testing.T) {
	bin := buildCouncild(t)
	env := func(scale, drain string) []string {
		return []string{
			"COUNCIL_PROVIDER=sim",
			"COUNCIL_SIM_SCALE=" + scale,
			"COUNCIL_DRAIN_TIMEOUT=" + drain,
			"COUNCIL_COLLECT_TIMEOUT=10m",
			"COUNCIL_REVIEW_TIMEOUT=10m",
			"COUNCIL_SYNTHESIZE_TIMEOUT=10m",
			"COUNCIL_MAX_CONSULT_DURATION=30m",
			"HOME=" + os.TempDir(),
		}
	}
	// sigterm opens a health Watch, sends SIGTERM and waits for
	// NOT_SERVING; it returns when the signal was sent.
	sigterm := func(t *testing.T, ctx context.Context, p *process, conn *grpc.ClientConn) time.Time {
		t.Helper()
		watchCtx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		watch, err := healthpb.NewHealthClient(conn).Watch(watchCtx, &healthpb.HealthCheckRequest{Service: councilv1.Council_ServiceDesc.ServiceName})
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health before SIGTERM = %v, %v", resp.GetStatus(), err)
		}
		sent := time.Now()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		awaitNotServing(t, watch)
		return sent
	}
	dial := func(t *testing.T, p *process) (*grpc.ClientConn, councilv1.CouncilClient) {
		t.Helper()
		conn, err := grpc.NewClient(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn, councilv1.NewCouncilClient(conn)
	}

	t.Run("in-flight consultations finish within the drain timeout", func(t *testing.T) {
		p := startCouncild(t, bin, env("0.5", "2m")...)
		conn, client := dial(t, p)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		var rs []*running
		for range 3 {
			rs = append(rs, startConsultation(t, ctx, client))
		}
		sent := sigterm(t, ctx, p, conn)
		for i, r := range rs {
			<-r.done
			if r.err != nil {
				t.Errorf("consultation %d: %v", i, r.err)
				continue
			}
			if r.last.GetConsultCompleted() == nil {
				t.Errorf("consultation %d ended with %T", i, r.last.GetEvent())
			}
			if !r.last.GetEmitTime().AsTime().After(sent) {
				t.Errorf("consultation %d was over before SIGTERM; the test proves nothing", i)
			}
		}
		if err := p.wait(t); err != nil {
			t.Errorf("councild exited with %v:\n%s", err, p.log)
		}
		if log := p.log.String(); strings.Contains(log, "drain timeout reached") || !strings.Contains(log, "msg=stopped") {
			t.Errorf("log:\n%s", log)
		}
	})

	t.Run("consultations past the drain timeout end with SHUTTING_DOWN", func(t *testing.T) {
		const drain = time.Second
		p := startCouncild(t, bin, env("200", drain.String())...)
		conn, client := dial(t, p)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		rs := []*running{startConsultation(t, ctx, client), startConsultation(t, ctx, client)}
		sent := sigterm(t, ctx, p, conn)
		for i, r := range rs {
			<-r.done
			st := status.Convert(r.err)
			if st.Code() != codes.Unavailable || reasonOf(r.err) != server.ReasonShuttingDown || !strings.Contains(st.Message(), "shutting down") {
				t.Errorf("consultation %d ended with %v, want Unavailable with %s", i, r.err, server.ReasonShuttingDown)
			}
			if elapsed := time.Since(sent); elapsed < drain {
				t.Errorf("consultation %d was cut off %v after SIGTERM, before the %v drain timeout", i, elapsed, drain)
			}
		}
		if err := p.wait(t); err != nil {
			t.Errorf("councild exited with %v:\n%s", err, p.log)
		}
		if log := p.log.String(); !strings.Contains(log, "drain timeout reached") || !strings.Contains(log, "msg=stopped") {
			t.Errorf("log:\n%s", log)
		}
	})
}
