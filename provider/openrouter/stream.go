package openrouter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/councilhq/council/provider"
)

const (
	// maxLineBytes bounds one line of an event stream.
	maxLineBytes = 1 << 20
	// maxBodyBytes bounds a non-streamed completion or a model list.
	maxBodyBytes = 32 << 20
	// readBufferBytes is the size of the buffered reader over a body:
	// enough for the chunks of a streamed completion, which are read
	// as they arrive; longer lines are gathered across reads. Every call
	// in flight holds one, so it is kept small.
	readBufferBytes = 1 << 10
)

var (
	errLineTooLong = errors.New("event stream line too long")
	errBodyTooLong = errors.New("response body too long")
)

// result is a decoded, successful completion.
type result struct {
	id           string
	model        string
	content      string
	finishReason string
	usage        provider.Usage
}

// decoder turns one 2xx response body into a result. It passes each content
// delta to onDelta as soon as it is decoded, and uses readErr to classify a
// failure of the underlying reader (a reset connection, a canceled context).
type decoder struct {
	r       *bufio.Reader
	onDelta func(string)
	readErr func(error) *provider.Error

	line     []byte
	data     []byte
	hasData  bool
	sawData  bool
	dataCut  bool
	sawOther bool
	done     bool
	streamed bool
	// errHeader holds the headers an error object in the body carried.
	errHeader http.Header
	content   strings.Builder
	res       result
	// chunks decodes the stream's chunks, reusing the last for the next.
	chunks streamChunks
}

// readers recycles the decoders' read buffers between calls.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferBytes) }}

// newDecoder returns a decoder reading r. Call release when done with it,
// and keep nothing that aliases its buffers.
func newDecoder(r io.Reader, onDelta func(string), readErr func(error) *provider.Error) *decoder {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	d := &decoder{r: br, onDelta: onDelta, readErr: readErr}
	// Without a callback the deltas are only gathered: they need not be
	// strings of their own.
	d.chunks.rawContent = onDelta == nil
	return d
}

// release returns the decoder's read buffer to the pool.
func (d *decoder) release() {
	d.r.Reset(nil)
	readers.Put(d.r)
	d.r = nil
}

// decodeBody decodes a 2xx body: an event stream, or a plain JSON completion
// (or error) when the server ignored "stream": true. A JSON Content-Type, or
// a body whose first non-blank byte is '{' whatever its Content-Type, is
// read as JSON; anything else as an event stream.
//
// On an error object in the body it also returns the rate-limit headers the
// provider copied into it, if any.
func decodeBody(body io.Reader, contentType string, onDelta func(string), readErr func(error) *provider.Error) (res *result, pe *provider.Error, errHeader http.Header) {
	d := newDecoder(body, onDelta, readErr)
	defer d.release()
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") || d.startsWithBrace() {
		res, pe = d.json()
	} else {
		res, pe = d.stream()
	}
	return res, pe, d.errHeader
}

// startsWithBrace reports whether the first non-blank byte is '{', looking
// no further than the reader's buffer.
func (d *decoder) startsWithBrace() bool {
	for n := 1; n <= readBufferBytes; n++ {
		b, _ := d.r.Peek(n)
		if len(b) < n {
			return false
		}
		switch b[n-1] {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// stream reads events until "[DONE]", an error chunk, or the end of the body.
func (d *decoder) stream() (*result, *provider.Error) {
	first := true
	for !d.done {
		if !first && !d.hasData {
			data, ok, err := d.dataEvent()
			switch {
			case err == io.EOF:
				return d.end()
			case err != nil:
				return nil, d.fail(d.readErr(err))
			case ok:
				d.sawData = true
				if pe := d.dispatchData(data); pe != nil {
					return nil, d.fail(pe)
				}
				continue
			}
		}
		line, err := d.readLine()
		switch {
		case errors.Is(err, errLineTooLong):
			return nil, d.fail(malformed("event stream line too long", err))
		case err != nil && err != io.EOF:
			return nil, d.fail(d.readErr(err))
		}
		eof := err == io.EOF
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if first {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			first = false
		}
		if len(line) > 0 && !d.field(line, eof) {
			return nil, d.fail(malformed("event stream event too long", errLineTooLong))
		}
		if eof {
			return d.end()
		}
		if len(line) > 0 {
			continue
		}
		if pe := d.dispatch(); pe != nil {
			return nil, d.fail(pe)
		}
	}
	return d.finish()
}

// readLine returns the next line with its terminator, or at the end of the
// body the unterminated rest with io.EOF.
func (d *decoder) readLine() ([]byte, error) {
	d.line = d.line[:0]
	for {
		frag, err := d.r.ReadSlice('\n')
		if len(d.line)+len(frag) > maxLineBytes {
			return nil, errLineTooLong
		}
		d.line = append(d.line, frag...)
		if err != bufio.ErrBufferFull {
			return d.line, err
		}
	}
}

// field records one non-blank line. Comments (": OPENROUTER PROCESSING")
// and the event, id and retry fields are skipped; data lines accumulate
// until the blank line that dispatches the event, up to maxLineBytes in all;
// field reports false for an event beyond that. cut marks a line that the
// end of the body interrupted.
func (d *decoder) field(line []byte, cut bool) bool {
	if line[0] == ':' {
		return true
	}
	name, value, _ := bytes.Cut(line, []byte(":"))
	value = bytes.TrimPrefix(value, []byte(" "))
	switch string(name) {
	case "data":
		if len(d.data)+len(value) >= maxLineBytes {
			return false
		}
		if d.hasData {
			d.data = append(d.data, '\n')
		}
		d.data = append(d.data, value...)
		d.hasData, d.sawData, d.dataCut = true, true, cut
	case "event", "id", "retry":
	default:
		d.sawOther = true
	}
	return true
}

// dispatch handles the pending event, if any.
func (d *decoder) dispatch() *provider.Error {
	if !d.hasData {
		return nil
	}
	data := d.data
	d.data, d.hasData = d.data[:0], false
	return d.dispatchData(data)
}

// dispatchData handles an event whose data is data.
func (d *decoder) dispatchData(data []byte) *provider.Error {
	if string(bytes.TrimSpace(data)) == "[DONE]" {
		d.done = true
		return nil
	}
	if err := d.chunks.decode(data); err != nil {
		return malformed("malformed stream chunk", err)
	}
	return d.applyChunk()
}

// applyChunk folds the chunk just decoded into the result.
func (d *decoder) applyChunk() *provider.Error {
	if pe := d.apply(&d.chunks.c, false); pe != nil {
		return pe
	}
	d.content.Write(d.chunks.raw)
	return nil
}

// dataEvent takes the next event from the reader's buffer, reading more
// if it is empty, when it is the usual shape of a stream's chunk: a single
// "data: " line and the blank line that ends it, both in the buffer. It
// returns the event's data in the buffer, valid until the next read.
// Otherwise it takes nothing, and the lines are read one by one, with the
// same outcome. err is the error of a read that found nothing.
func (d *decoder) dataEvent() (data []byte, ok bool, err error) {
	const prefix = "data: "
	if d.r.Buffered() == 0 {
		if _, err := d.r.Peek(1); err != nil {
			return nil, false, err
		}
	}
	buf, _ := d.r.Peek(d.r.Buffered())
	if !bytes.HasPrefix(buf, []byte(prefix)) {
		return nil, false, nil
	}
	end := bytes.IndexByte(buf, '\n')
	if end < 0 || end+1 == len(buf) || buf[end+1] != '\n' {
		return nil, false, nil
	}
	data = bytes.TrimSuffix(buf[len(prefix):end], []byte("\r"))
	_, _ = d.r.Discard(end + 2)
	return data, true, nil
}

// end handles the end of the body. A pending event is still decoded; if it
// does not parse and its last line was cut short, the stream was truncated.
func (d *decoder) end() (*result, *provider.Error) {
	if d.hasData {
		data := d.data
		d.data, d.hasData = d.data[:0], false
		if string(bytes.TrimSpace(data)) == "[DONE]" {
			d.done = true
			return d.finish()
		}
		if err := d.chunks.decode(data); err != nil {
			if d.dataCut {
				return nil, d.fail(truncated(err))
			}
			return nil, d.fail(malformed("malformed stream chunk", err))
		}
		if pe := d.applyChunk(); pe != nil {
			return nil, d.fail(pe)
		}
	}
	switch {
	case d.res.finishReason != "":
		return d.finish()
	case !d.sawData && d.sawOther:
		return nil, d.fail(malformed("response is not an event stream", nil))
	}
	return nil, d.fail(truncated(io.ErrUnexpectedEOF))
}

// json decodes a whole, non-streamed completion. Its content is passed to
// onDelta as one delta.
func (d *decoder) json() (*result, *provider.Error) {
	body, err := io.ReadAll(io.LimitReader(d.r, maxBodyBytes+1))
	if err != nil {
		return nil, d.fail(d.readErr(err))
	}
	if len(body) > maxBodyBytes {
		return nil, d.fail(malformed("response too large", errBodyTooLong))
	}
	var c completion
	if err := decodeCompletion(body, &c); err != nil {
		return nil, d.fail(malformed("malformed completion", err))
	}
	if pe := d.apply(&c, true); pe != nil {
		return nil, d.fail(pe)
	}
	return d.finish()
}

// apply folds one chunk (or a whole completion) into the result.
func (d *decoder) apply(c *completion, whole bool) *provider.Error {
	e := parseWireError(c.Error)
	if e != nil || (len(c.Choices) > 0 && c.Choices[0].FinishReason == "error") {
		if e != nil {
			d.errHeader = e.header()
		}
		return streamError(e)
	}
	if d.res.id == "" {
		d.res.id = c.ID
	}
	if c.Model != "" {
		d.res.model = c.Model
	}
	if c.Usage != nil {
		d.res.usage = provider.Usage{
			InputTokens:  c.Usage.PromptTokens,
			OutputTokens: c.Usage.CompletionTokens,
			Cost:         c.Usage.Cost,
		}
	}
	if len(c.Choices) == 0 {
		return nil
	}
	ch := c.Choices[0]
	if ch.FinishReason != "" {
		d.res.finishReason = ch.FinishReason
	}
	text := ch.Delta.Content
	if whole {
		text = ch.Message.Content
	}
	if text != "" {
		d.content.WriteString(text)
		if d.onDelta != nil {
			d.onDelta(text)
			d.streamed = true
		}
	}
	return nil
}

// finish returns the result, or a [provider.KindEmpty] error without content.
func (d *decoder) finish() (*result, *provider.Error) {
	if d.content.Len() == 0 {
		return nil, d.fail(&provider.Error{Kind: provider.KindEmpty, Message: "empty completion"})
	}
	d.res.content = d.content.String()
	return &d.res, nil
}

// fail marks pe as streamed when content already reached onDelta.
func (d *decoder) fail(pe *provider.Error) *provider.Error {
	pe.Streamed = d.streamed
	return pe
}

// streamError is the error for an error object inside a 200 response.
func streamError(e *wireError) *provider.Error {
	pe := &provider.Error{Kind: streamErrorKind(e), Message: "upstream reported an error in the stream"}
	if e != nil {
		pe.Err = fmt.Errorf("upstream stream error: %s", describe(e))
	} else {
		pe.Err = errors.New(`upstream stream error: finish_reason "error"`)
	}
	return pe
}

func malformed(msg string, err error) *provider.Error {
	return &provider.Error{Kind: provider.KindMalformed, Message: msg, Err: err}
}

func truncated(err error) *provider.Error {
	return &provider.Error{Kind: provider.KindNetwork, Message: "stream ended before completion", Err: err}
}

// describe renders an upstream error for Error.Err (internal only).
func describe(e *wireError) string {
	var b strings.Builder
	if len(e.Code) > 0 {
		fmt.Fprintf(&b, "code=%s ", e.Code)
	}
	if s := e.signals(); len(s) > 0 {
		fmt.Fprintf(&b, "type=%s ", strings.Join(s, ","))
	}
	fmt.Fprintf(&b, "message=%q", e.Message)
	return b.String()
}
