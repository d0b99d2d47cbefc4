package syncbuf_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/councilhq/council/internal/syncbuf"
)

// TestConcurrentWrites checks that lines written at once from many
// goroutines all arrive whole (run with -race for the data race).
func TestConcurrentWrites(t *testing.T) {
	var b syncbuf.Buffer
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range lines {
				if _, err := b.Write([]byte("line\n")); err != nil {
					t.Error(err)
				}
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got, want := b.String(), strings.Repeat("line\n", writers*lines); got != want {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
}
