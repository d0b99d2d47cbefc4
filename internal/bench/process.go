package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Process is a councild started as a separate process, so that its
// memory is measured apart from the benchmark's client and upstream. It
// implements [MemoryProbe] by reading /proc (Linux only).
type Process struct {
	// Addr is the address the server listens on; AdminAddr that of its
	// admin HTTP server, empty when it logged none.
	Addr      string
	AdminAddr string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the process's exit error, once exited is closed
}

// startTimeout bounds the wait for a started server to listen.
const startTimeout = 30 * time.Second

// listening matches councild's log line announcing its address, and
// adminListening the admin server's, logged before it.
var (
	listening      = regexp.MustCompile(`msg=listening addr=(\S+)`)
	adminListening = regexp.MustCompile(`msg="admin listening" addr=(\S+)`)
)

// StartProcess runs the councild binary at path with args and the extra
// environment variables env added to the benchmark's own, copies its log
// to log, and returns once it logs the address it listens on. Call Stop
// to end it.
func StartProcess(path string, args, env []string, log io.Writer) (*Process, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	var admin atomic.Value // string
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if m := adminListening.FindSubmatch(line); m != nil {
				admin.Store(string(m[1]))
			}
			if m := listening.FindSubmatch(line); m != nil {
				select {
				case addr <- string(m[1]):
				default:
				}
			}
			_, _ = log.Write(line)
			_, _ = log.Write([]byte{'\n'})
		}
		_, _ = io.Copy(log, stderr)
	}()
	go func() {
		<-logged
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.Addr = <-addr:
		p.AdminAddr, _ = admin.Load().(string)
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("bench: %s exited before listening: %v", path, p.err)
	case <-time.After(startTimeout):
		_ = p.Stop(context.Background())
		return nil, fmt.Errorf("bench: %s did not listen within %v", path, startTimeout)
	}
}

// Stop asks the server to shut down (SIGTERM) and waits for it to exit,
// killing it if ctx ends first.
func (p *Process) Stop(ctx context.Context) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.exited
		return ctx.Err()
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) && exit.ExitCode() == -1 {
		return nil // ended by the signal
	}
	return p.err
}

// ResetPeak resets the kernel's peak resident set size of the process
// (writing 5 to /proc/<pid>/clear_refs).
func (p *Process) ResetPeak() error {
	return os.WriteFile(p.procFile("clear_refs"), []byte("5"), 0)
}

// Peak returns the peak resident set size (VmHWM) in bytes.
func (p *Process) Peak() (int64, error) { return p.status("VmHWM") }

// Current returns the resident set size (VmRSS) in bytes.
func (p *Process) Current() (int64, error) { return p.status("VmRSS") }

func (p *Process) procFile(name string) string {
	return "/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/" + name
}

func (p *Process) status(field string) (int64, error) {
	b, err := os.ReadFile(p.procFile("status"))
	if err != nil {
		return 0, err
	}
	return statusField(b, field)
}

// statusField returns a "Name:   123 kB" field of /proc/<pid>/status in bytes.
func statusField(status []byte, field string) (int64, error) {
	for _, line := range bytes.Split(status, []byte("\n")) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(name) != field {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("bench: malformed %s line %q", field, line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: malformed %s line %q: %w", field, line, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("bench: no %s in the process status", field)
}

// clockTicks is the kernel's USER_HZ, the unit of the CPU times in
// /proc/<pid>/stat; it is 100 on every Linux platform Go supports.
const clockTicks = 100

// CPU returns the CPU time (user and system) the process has used.
func (p *Process) CPU() (time.Duration, error) {
	b, err := os.ReadFile(p.procFile("stat"))
	if err != nil {
		return 0, err
	}
	return statCPU(b)
}

// statCPU returns utime+stime of a /proc/<pid>/stat line.
func statCPU(stat []byte) (time.Duration, error) {
	// The command name, field 2, is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: malformed process stat %q", stat)
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: malformed process stat %q", stat)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: malformed process stat %q: %w", stat, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// ReadSyscalls returns the read system calls the process has made (syscr
// in /proc/<pid>/io).
func (p *Process) ReadSyscalls() (int64, error) {
	b, err := os.ReadFile(p.procFile("io"))
	if err != nil {
		return 0, err
	}
	return ioField(b, "syscr")
}

// ioField returns a "name: 123" field of /proc/<pid>/io.
func ioField(io []byte, field string) (int64, error) {
	for _, line := range bytes.Split(io, []byte("\n")) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if ok && string(name) == field {
			return strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
		}
	}
	return 0, fmt.Errorf("bench: no %s in the process io", field)
}

// Goroutines returns the number of goroutines of the server, the
// go_goroutines gauge of its admin server's Prometheus /metrics. A
// goroutine profile, which this read before, records every goroutine's
// stack: ten times a second it took 5–8 % of the server's CPU at 100
// consultations in flight, which the benchmark then measured as the
// server's own. The gauge costs about the same however many goroutines
// run; it is asked for alone and uncompressed, so that the server does not
// encode and gzip every metric ten times a second.
func (p *Process) Goroutines() (int, error) {
	if p.AdminAddr == "" {
		return 0, errors.New("bench: the server has no admin server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.AdminAddr+"/metrics?name[]=go_goroutines", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("bench: metrics: %s", resp.Status)
	}
	return goroutineGauge(resp.Body)
}

// goroutineGauge reads the value of go_goroutines from metrics in the
// Prometheus text format.
func goroutineGauge(metrics io.Reader) (int, error) {
	const name = "go_goroutines "
	sc := bufio.NewScanner(metrics)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || n < 0 || n != float64(int(n)) {
				return 0, fmt.Errorf("bench: malformed gauge line %q", sc.Text())
			}
			return int(n), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("bench: no go_goroutines in the metrics")
}
