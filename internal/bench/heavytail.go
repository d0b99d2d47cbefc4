package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Defaults of the heavy-tail measurement.
const (
	// DefaultHeavyTailJitter is the most random delay the heavy-tailed
	// model adds to its 300 ms.
	DefaultHeavyTailJitter = 3 * time.Second
	// DefaultHeavyTailConsultations is how many consultations each
	// setting runs.
	DefaultHeavyTailConsultations = 40
	// DefaultHeavyTailConcurrency is how many of them run at once.
	DefaultHeavyTailConcurrency = 10
)

// HeavyTailProfile returns [DefaultProfile] with its fastest council
// model, at 300 ms, replaced by one that answers in 300 ms plus a random
// delay of up to jitter on every call, and a backup at 300 ms that calls
// to it can be hedged with.
func HeavyTailProfile(jitter time.Duration) Profile {
	p := DefaultProfile()
	p.Council[0] = Model{ID: "bench/council-300ms-heavy", Latency: 300 * time.Millisecond, TTFT: p.Council[0].TTFT, Jitter: jitter}
	p.Backups = []Model{{ID: "bench/backup-300ms", Latency: 300 * time.Millisecond, TTFT: p.Council[0].TTFT}}
	return p
}

// WithoutTail returns p with every model's random delay removed: the
// council whose critical path a heavy-tailed one is compared with.
func WithoutTail(p Profile) Profile {
	q := p
	q.Council = append([]Model(nil), p.Council...)
	for i := range q.Council {
		q.Council[i].Jitter = 0
	}
	return q
}

// HeavyTailConfig says what [RunHeavyTail] measures.
type HeavyTailConfig struct {
	// Addr is the server under test; its provider is an [Upstream]
	// serving Profile.
	Addr    string
	Profile Profile
	// Consultations run in waves of Concurrency started at once.
	// Defaults [DefaultHeavyTailConsultations] and
	// [DefaultHeavyTailConcurrency].
	Consultations, Concurrency int
	Conns                      int
	ConsultTimeout             time.Duration
	Progress                   io.Writer
}

// HeavyTailRow is what one setting of hedging and the straggler cut-off
// measured.
type HeavyTailRow struct {
	Hedge, Cutoff bool
	Latency       Dist
	// Cut counts the consultations whose stragglers were cut, Degraded
	// the degraded ones, Errors those that did not complete.
	Cut, Degraded, Errors int
	// Hedges counts the calls to the backup model.
	Hedges int
}

// RunHeavyTail runs cfg's consultations and summarizes them in a row;
// the caller fills in Hedge, Cutoff and Hedges.
func RunHeavyTail(ctx context.Context, cfg HeavyTailConfig) (HeavyTailRow, error) {
	if cfg.Consultations <= 0 {
		cfg.Consultations = DefaultHeavyTailConsultations
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultHeavyTailConcurrency
	}
	if cfg.ConsultTimeout <= 0 {
		cfg.ConsultTimeout = DefaultConsultTimeout
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	c, err := Dial(cfg.Addr, max(cfg.Conns, 1), cfg.Profile)
	if err != nil {
		return HeavyTailRow{}, err
	}
	defer c.Close()
	r := &runner{cfg: Config{ConsultTimeout: cfg.ConsultTimeout}, client: c}
	var row HeavyTailRow
	var lat []time.Duration
	for wave := 0; len(lat)+row.Errors < cfg.Consultations && ctx.Err() == nil; wave++ {
		n := min(cfg.Concurrency, cfg.Consultations-len(lat)-row.Errors)
		for _, tr := range r.wave(ctx, fmt.Sprintf("tail-%d", wave), n) {
			if tr.Err != nil || !tr.Completed {
				row.Errors++
				continue
			}
			lat = append(lat, tr.Done)
			if tr.StragglersCut {
				row.Cut++
			}
			if tr.Degraded {
				row.Degraded++
			}
		}
	}
	row.Latency = Summarize(lat)
	return row, ctx.Err()
}

// WriteHeavyTailReport writes the heavy-tail table: p50 and p99 of each
// setting against the critical path of the council without the tail.
func WriteHeavyTailReport(w io.Writer, p Profile, rows []HeavyTailRow) error {
	var b strings.Builder
	path := CriticalPath(WithoutTail(p))
	var heavy Model
	for _, m := range p.Council {
		if m.Jitter > 0 {
			heavy = m
		}
	}
	onOff := func(on bool) string {
		if on {
			return "on"
		}
		return "off"
	}
	fmt.Fprintf(&b, "Heavy tail: %s answers in %s plus a random delay of up to %s on every call; the others as above. Critical path without the tail: **%s**.\n\n",
		heavy.ID, ms(heavy.Latency), ms(heavy.Jitter), ms(path.Total()))
	b.WriteString("| Hedging | Straggler cut-off | Consultations | p50 | p99 | p50 / critical path | p99 / critical path | Stragglers cut | Hedged calls | Errors |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %d | %d | %d |\n",
			onOff(r.Hedge), onOff(r.Cutoff), r.Latency.N+r.Errors, ms(r.Latency.P50), ms(r.Latency.P99),
			ratioTo(r.Latency.P50, path.Total()), ratioTo(r.Latency.P99, path.Total()), r.Cut, r.Hedges, r.Errors)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ratioTo writes d / base as a multiple, like 1.27×.
func ratioTo(d, base time.Duration) string {
	if base <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", float64(d)/float64(base))
}
