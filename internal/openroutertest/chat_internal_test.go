package openroutertest

import (
	"encoding/json"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// A content chunk assembled from its encoded halves is the chunk encoded
// whole, whatever the content.
func TestContentChunkEncodesAsAWholeChunk(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ex := &exchange{
			id:    rapid.StringMatching(`gen-[a-z0-9]{0,12}`).Draw(t, "id"),
			req:   Request{Model: rapid.StringMatching(`[a-z]{1,8}/[a-z0-9<>&".-]{1,12}`).Draw(t, "model")},
			start: time.Unix(rapid.Int64Range(0, 1<<40).Draw(t, "start"), 0),
		}
		piece := rapid.String().Draw(t, "piece")
		before, after := ex.contentChunk()
		quoted, err := json.Marshal(piece)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := json.Marshal(ex.chunk(piece, "", nil))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := before+string(quoted)+after, "data: "+string(whole)+"\n\n"; got != want {
			t.Fatalf("assembled %q\nwant      %q", got, want)
		}
	})
}
