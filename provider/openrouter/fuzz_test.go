package openrouter

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/councilhq/council/provider"
)

// decodeOutcome is what a decode produced, for comparing two decodes.
type decodeOutcome struct {
	res      result
	ok       bool
	kind     provider.Kind
	streamed bool
	deltas   string
}

func decodeAll(data []byte, oneByte bool) (decodeOutcome, []string, *result, *provider.Error) {
	return decodeWith(data, oneByte, true)
}

// decodeWith decodes data as decodeAll does, with no delta callback when
// callback is false.
func decodeWith(data []byte, oneByte, callback bool) (decodeOutcome, []string, *result, *provider.Error) {
	r := bytes.NewReader(data)
	var deltas []string
	var onDelta func(string)
	if callback {
		onDelta = func(d string) { deltas = append(deltas, d) }
	}
	readErr := func(err error) *provider.Error {
		return &provider.Error{Kind: provider.KindNetwork, Message: "read", Err: err}
	}
	var res *result
	var pe *provider.Error
	if oneByte {
		res, pe = decodeStream(iotest.OneByteReader(r), onDelta, readErr)
	} else {
		res, pe = decodeStream(r, onDelta, readErr)
	}
	out := decodeOutcome{deltas: strings.Join(deltas, "\x00")}
	if res != nil {
		out.res, out.ok = *res, true
	}
	if pe != nil {
		out.kind, out.streamed = pe.Kind, pe.Streamed
	}
	return out, deltas, res, pe
}

// FuzzSSE feeds arbitrary bytes to the event-stream decoder and checks that
// it never panics, returns exactly one of a result and an error, reports
// content equal to the deltas it passed on, flags Streamed exactly when a
// delta was passed on, and decodes the same bytes identically when they
// arrive one at a time, and to the same result or error without a delta
// callback.
func FuzzSSE(f *testing.F) {
	for _, seed := range []string{
		strings.Join(typicalStream, ""),
		strings.ReplaceAll(strings.Join(typicalStream, ""), "\n", "\r\n"),
		frameProcessing + frameMidError,
		event(chunk("Ray")) + frameMidError,
		event(chunk("Ray")) + `data: {"choices":[{"delta":{"cont`,
		event(`{"choices":[{"delta":{"content":"x"}}]`) + frameDone,
		"data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"a\"}}]}\n\n" + frameDone,
		event(`{"error":"boom"}`),
		event(`{"error":{"code":429,"metadata":{"headers":{"retry-after":"7"}}}}`),
		"\ufeffevent: x\nid: 1\nretry: 5\n\n" + frameDone,
		"<html>\n",
		"data: [DONE]",
		"",
		":\n\n:\n",
		"data:\n\n",
	} {
		f.Add([]byte(seed))
	}
	allowed := map[provider.Kind]bool{
		provider.KindMalformed: true, provider.KindNetwork: true, provider.KindEmpty: true,
		provider.KindUpstream: true, provider.KindRateLimited: true, provider.KindQuota: true,
		provider.KindOverloaded: true, provider.KindTimeout: true, provider.KindInvalidRequest: true,
		provider.KindAuth: true,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, deltas, res, pe := decodeAll(data, false)
		if (res == nil) == (pe == nil) {
			t.Fatalf("result %v and error %v: want exactly one", res, pe)
		}
		for _, d := range deltas {
			if d == "" {
				t.Fatal("empty delta passed on")
			}
		}
		if res != nil && (res.content == "" || res.content != strings.Join(deltas, "")) {
			t.Fatalf("content %q, deltas %q", res.content, deltas)
		}
		if pe != nil {
			if !allowed[pe.Kind] || pe.Message == "" {
				t.Fatalf("unexpected error %+v", pe)
			}
			if pe.Streamed != (len(deltas) > 0) {
				t.Fatalf("streamed = %v with %d deltas", pe.Streamed, len(deltas))
			}
		}
		again, _, _, _ := decodeAll(data, true)
		if again != out {
			t.Fatalf("one-byte reads decoded differently:\n%+v\n%+v", again, out)
		}
		quiet, _, _, _ := decodeWith(data, false, false)
		if quiet.res != out.res || quiet.ok != out.ok || quiet.kind != out.kind || quiet.streamed {
			t.Fatalf("without a callback decoded differently:\n%+v\n%+v", quiet, out)
		}
	})
}
