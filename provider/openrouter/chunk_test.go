package openrouter

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// chunkSeeds are chunks as OpenRouter and other OpenAI-compatible servers
// send them, and the shapes the scanner leaves to encoding/json.
var chunkSeeds = []string{
	`{"id":"gen-1","provider":"OpenAI","model":"openai/gpt-4o-mini","object":"chat.completion.chunk","created":1730000000,"choices":[{"index":0,"delta":{"role":"assistant","content":"Ray"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}`,
	`{"id":"gen-1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}],"usage":{"prompt_tokens":41,"completion_tokens":203,"total_tokens":244,"cost":0.00006,"prompt_tokens_details":{"cached_tokens":0}}}`,
	`{"choices":[{"delta":{"content":"line\nbreak \"quoted\" caf\u00e9 \u2603 \\ \/"}}]}`,
	`{"choices":[{"delta":{"content":"café ☃ 😀"}}]}`,
	`{"error":{"code":429,"message":"Rate limit exceeded","metadata":{"headers":{"X-RateLimit-Reset":"1730000000000"}}}}`,
	`{"error":"boom"}`,
	`{"error":null,"usage":null,"choices":null}`,
	`{"choices":[{"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}]}`,
	`{"ID":"x","Choices":[]}`,
	`{"id":"a","id":"b"}`,
	`{"choices":[{"delta":{"content":"\ud83d\ude00"}}]}`,
	`{"choices":[{"delta":{"content":"bad \xff utf8"}}]}`,
	`{"usage":{"prompt_tokens":1.5}}`,
	`{"usage":{"prompt_tokens":1e2,"cost":1e400}}`,
	`{"choices":[null]}`,
	`{"choices":[{"delta":"x"}]}`,
	`null`,
	`{"a":[1,-0.5e-3,true,false,null,{"b":[]}]} `,
	`{"id":"x"} trailing`,
	`{"id":"x",}`,
	`{"id":"\u00"}`,
	`{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}`,
	"{\"id\":\"tab\there\"}",
	`[]`,
	``,
}

// FuzzDecodeCompletion checks that the targeted decoder agrees with
// encoding/json: the same error or none, and the same completion, on any
// input, decoded afresh or after another chunk whose id, model and
// choices it reuses, and, as a stream's next chunk, after a chunk whose
// content value is the input's place or is replaced by the input; and
// that it never panics.
func FuzzDecodeCompletion(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want completion
		gotErr := decodeCompletion(data, &got)
		wantErr := json.Unmarshal(data, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, encoding/json's %v", data, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %#v\nwant %#v", data, got, want)
		}
		for _, prev := range chunkSeeds[:2] {
			var reused completion
			if err := decodeCompletion([]byte(prev), &reused); err != nil {
				t.Fatal(err)
			}
			_, gotErr := decodeReusing(data, &reused)
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("%q after %s: error %v, encoding/json's %v", data, prev, gotErr, wantErr)
			}
			if wantErr == nil && !reflect.DeepEqual(reused, want) {
				t.Fatalf("%q after %s:\n got %#v\nwant %#v", data, prev, reused, want)
			}
			agreeAsNextChunk(t, prev, data)
			// The input in place of the previous chunk's content value:
			// the bytes around it are the previous chunk's.
			var first streamChunks
			if err := first.decode([]byte(prev)); err != nil {
				t.Fatal(err)
			}
			if first.prev != nil {
				start, end := first.content[0], first.content[1]
				agreeAsNextChunk(t, prev, []byte(prev[:start]+string(data)+prev[end:]))
			}
		}
	})
}

// agreeAsNextChunk checks that a stream's chunk data, decoded after prev,
// comes out as encoding/json decodes it alone.
func agreeAsNextChunk(t *testing.T, prev string, data []byte) {
	t.Helper()
	var s streamChunks
	if err := s.decode([]byte(prev)); err != nil {
		t.Fatal(err)
	}
	gotErr := s.decode(data)
	var want completion
	wantErr := json.Unmarshal(data, &want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q after %s in a stream: error %v, encoding/json's %v", data, prev, gotErr, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(s.c, want) {
		t.Fatalf("%q after %s in a stream:\n got %#v\nwant %#v", data, prev, s.c, want)
	}
}

func TestStreamChunksReadOnlyTheContentOfARepeatedChunk(t *testing.T) {
	var s streamChunks
	if err := s.decode([]byte(chunkSeeds[0])); err != nil || s.prev == nil {
		t.Fatalf("a typical chunk (%v) cannot serve the next", err)
	}
	next := strings.Replace(chunkSeeds[0], `"content":"Ray"`, `"content":"leigh \u2603"`, 1)
	if err := s.decode([]byte(next)); err != nil || s.c.Choices[0].Delta.Content != "leigh ☃" {
		t.Fatalf("next chunk: content %q, %v", s.c.Choices[0].Delta.Content, err)
	}
	plain := []byte(strings.Replace(chunkSeeds[0], `"Ray"`, `"leigh"`, 1))
	if allocs := testing.AllocsPerRun(100, func() { _ = s.decode(plain) }); allocs > 1 {
		t.Errorf("a repeated chunk takes %v allocations, want at most its content's", allocs)
	}
	// A chunk that differs elsewhere is decoded whole.
	other := strings.Replace(next, `"gen-1"`, `"gen-2"`, 1)
	if err := s.decode([]byte(other)); err != nil || s.c.ID != "gen-2" || s.c.Choices[0].Delta.Content != "leigh ☃" {
		t.Fatalf("a chunk with another id: %+v, %v", s.c, err)
	}
}

func TestDecodeCompletionTakesTheFastPath(t *testing.T) {
	for _, s := range chunkSeeds[:8] {
		var c completion
		sc := chunkScanner{data: []byte(s)}
		if !sc.completion(&c) {
			t.Errorf("%s: left to encoding/json", s)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() {
		var c completion
		_ = decodeCompletion([]byte(chunkSeeds[0]), &c)
	}); allocs > 10 {
		t.Errorf("a typical chunk takes %v allocations, want at most 10", allocs)
	}
}

func BenchmarkDecodeChunk(b *testing.B) {
	data := []byte(chunkSeeds[0])
	b.Run("targeted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c completion
			if err := decodeCompletion(data, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("targeted, reusing the previous chunk", func(b *testing.B) {
		b.ReportAllocs()
		var c completion
		for b.Loop() {
			if _, err := decodeReusing(data, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("a stream's next chunk, the same but for its content", func(b *testing.B) {
		b.ReportAllocs()
		var s streamChunks
		next := []byte(strings.Replace(chunkSeeds[0], `"Ray"`, `"leigh"`, 1))
		if err := s.decode(data); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := s.decode(next); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c completion
			if err := json.Unmarshal(data, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
