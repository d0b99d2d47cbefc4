package streams_test

import (
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/councilhq/council/internal/streams"
)

// fakeStream yields its messages, then its end.
type fakeStream struct {
	msgs []int
	end  error
}

func (f *fakeStream) Recv() (int, error) {
	if len(f.msgs) == 0 {
		return 0, f.end
	}
	m := f.msgs[0]
	f.msgs = f.msgs[1:]
	return m, nil
}

func TestReadAll(t *testing.T) {
	broken := errors.New("stream broken")
	for _, tc := range []struct {
		name    string
		end     error
		wantErr error
	}{
		{"ends with status OK", io.EOF, nil},
		{"ends with an error", broken, broken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := streams.ReadAll[int](&fakeStream{msgs: []int{1, 2, 3}, end: tc.end})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(got, []int{1, 2, 3}) {
				t.Errorf("received %v, want [1 2 3]", got)
			}
		})
	}
}
