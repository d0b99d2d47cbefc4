package eventlog_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/councilhq/council/eventlog"
)

// For any interleaving of appends, reads from any point with any limit and
// the end, every read returns exactly the events after its point, in
// order, with no gap, at most its limit, and the end only after the last
// event.
func TestReadsAreGapFreeProperty(t *testing.T) {
	backends(t, func(t *testing.T, l eventlog.Log) {
		n := 0
		rapid.Check(t, func(rt *rapid.T) {
			ctx := context.Background()
			n++
			id := fmt.Sprintf("p%d", n)
			if _, created, err := l.Create(ctx, eventlog.Info{ID: id}); err != nil || !created {
				rt.Fatalf("Create: %v %v", created, err)
			}
			payload := func(seq uint64) []byte { return []byte(fmt.Sprintf("%s/%d\x00", id, seq)) }
			var appended uint64
			ended := false
			steps := rapid.IntRange(1, 40).Draw(rt, "steps")
			for range steps {
				switch op := rapid.IntRange(0, 9).Draw(rt, "op"); {
				case op < 4 && !ended:
					appended++
					if err := l.Append(ctx, id, eventlog.Entry{Seq: appended, Data: payload(appended)}); err != nil {
						rt.Fatalf("Append %d: %v", appended, err)
					}
				case op == 4 && !ended:
					if err := l.End(ctx, id, []byte("end "+id)); err != nil {
						rt.Fatalf("End: %v", err)
					}
					ended = true
				default:
					after := rapid.Uint64Range(0, appended+2).Draw(rt, "after")
					limit := rapid.IntRange(0, 5).Draw(rt, "limit")
					b, err := l.Read(ctx, id, after, limit, 0)
					if err != nil {
						rt.Fatalf("Read(%d, %d): %v", after, limit, err)
					}
					want := uint64(0)
					if appended > after {
						want = appended - after
					}
					if limit > 0 {
						want = min(want, uint64(limit))
					}
					if uint64(len(b.Entries)) != want {
						rt.Fatalf("Read(%d, %d) of %d events: %d entries", after, limit, appended, len(b.Entries))
					}
					for i, e := range b.Entries {
						if seq := after + uint64(i) + 1; e.Seq != seq || !bytes.Equal(e.Data, payload(seq)) {
							rt.Fatalf("entry %d = %d %q, want %d", i, e.Seq, e.Data, seq)
						}
					}
					last := after + uint64(len(b.Entries))
					if wantEnd := ended && last >= appended; b.Ended != wantEnd || (b.Ended && string(b.End) != "end "+id) {
						rt.Fatalf("Read(%d, %d) of %d events, ended %v: Ended %v %q", after, limit, appended, ended, b.Ended, b.End)
					}
					if b.Lost {
						rt.Fatalf("a live log read as lost")
					}
				}
			}
		})
	})
}
