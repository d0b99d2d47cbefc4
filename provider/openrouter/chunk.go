package openrouter

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// decodeCompletion decodes data, a chat-completion chunk or a whole
// completion, into c exactly as json.Unmarshal would. The usual shapes
// (lower-case keys without escapes, each at most once, values of the
// expected types) are decoded by a scanner that reads only the fields the
// client uses and skips the rest without reflection; anything else,
// invalid JSON included, is left to encoding/json, so the results and
// the errors are the standard library's.
func decodeCompletion(data []byte, c *completion) error {
	*c = completion{}
	_, err := decodeReusing(data, c)
	return err
}

// decodeReusing decodes data into c as decodeCompletion does, reusing
// what c holds from the previous chunk of the same stream: the backing
// array of its choices and, when they repeat, its id and model strings.
// So the chunks of a stream, which differ only in their content, cost an
// allocation for the content and none for the rest. When the scanner read
// data and found the first choice's delta content, it returns where that
// value was; else zero.
func decodeReusing(data []byte, c *completion) ([2]int, error) {
	s := chunkScanner{data: data, id: c.ID, model: c.Model, choiceBuf: c.Choices[:0]}
	*c = completion{}
	if s.completion(c) {
		return s.content, nil
	}
	*c = completion{}
	return [2]int{}, json.Unmarshal(data, c)
}

// maxSkipDepth is the deepest nesting the scanner skips; deeper values
// go to encoding/json, which has its own limit.
const maxSkipDepth = 512

// special marks the bytes that end the plain run of a string: the quote,
// the backslash, control characters and the bytes of non-ASCII UTF-8.
var special = func() (t [256]bool) {
	for b := range t {
		t[b] = b == '"' || b == '\\' || b < 0x20 || b >= 0x80
	}
	return t
}()

// chunkScanner reads one JSON document. Its methods return false as soon
// as the input is anything but the plain shape it decodes, valid or not.
type chunkScanner struct {
	data []byte
	pos  int
	// id and model are the previous chunk's, returned again rather than
	// copied when they repeat; choiceBuf is a backing array to decode the
	// choices into.
	id, model string
	choiceBuf []choice
	// inFirstDelta is set while the first choice's delta is read, and
	// content is where its content value was, when it was.
	inFirstDelta bool
	content      [2]int
}

// streamChunks decodes the chunks of one stream. The chunks of a stream
// differ, as a rule, only in their content: a chunk whose bytes before and
// after its first choice's content value are those of the previous chunk
// (one choice, no usage and no error) has only that value read, since the
// scanner, reading the same bytes from the same state, would find the rest
// as it did before. Any other chunk is decoded whole, as decodeReusing
// does.
type streamChunks struct {
	// c is the last chunk decoded.
	c completion
	// prev is the last chunk decoded whole when it can serve the next,
	// else nil; content is where its content value was.
	prev    []byte
	content [2]int
	// rawContent has a repeated chunk's content value, when it has no
	// escapes, left in raw rather than copied into a string, for a caller
	// that only appends it somewhere: the chunk's content is then empty.
	rawContent bool
	// raw is that content of the last chunk, in the data decoded.
	raw []byte
}

// decode decodes data into s.c (and s.raw).
func (s *streamChunks) decode(data []byte) error {
	s.raw = nil
	if s.prev != nil && s.sameBut(data) {
		return nil
	}
	content, err := decodeReusing(data, &s.c)
	if err != nil || content == [2]int{} || len(s.c.Choices) != 1 || s.c.Usage != nil || s.c.Error != nil {
		s.prev = nil
		return err
	}
	s.prev, s.content = append(s.prev[:0], data...), content
	return nil
}

// sameBut reports whether data is the previous chunk but for its content
// value, and if so reads that value into s.c.
func (s *streamChunks) sameBut(data []byte) bool {
	start, end := s.content[0], s.content[1]
	tail := len(s.prev) - end
	if len(data) < start+tail || string(data[:start]) != string(s.prev[:start]) ||
		string(data[len(data)-tail:]) != string(s.prev[end:]) {
		return false
	}
	sc := chunkScanner{data: data[:len(data)-tail], pos: start}
	var content string
	var raw []byte
	switch {
	case sc.null():
	case s.rawContent:
		r, v, esc, ok := sc.strRaw()
		switch {
		case !ok:
			return false
		case esc:
			content = v
		default:
			raw = r
		}
	default:
		v, ok := sc.str()
		if !ok {
			return false
		}
		content = v
	}
	if sc.pos != len(sc.data) {
		return false
	}
	s.c.Choices[0].Delta.Content, s.raw = content, raw
	return true
}

func (s *chunkScanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-blank byte, or 0 at the end.
func (s *chunkScanner) peek() byte {
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		// The usual case: compact JSON has no blanks.
		return s.data[s.pos]
	}
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *chunkScanner) consume(b byte) bool {
	if s.peek() != b {
		return false
	}
	s.pos++
	return true
}

// completion decodes the top-level object, which must be all the input.
func (s *chunkScanner) completion(c *completion) bool {
	var seen [5]bool
	ok := s.object(func(key []byte) bool {
		i := index(key, "id", "model", "choices", "usage", "error")
		switch {
		case i == -1:
			return s.skip(0)
		case i < 0:
			return false
		}
		if seen[i] {
			return false
		}
		seen[i] = true
		switch i {
		case 0:
			return s.internInto(&c.ID, s.id)
		case 1:
			return s.internInto(&c.Model, s.model)
		case 2:
			return s.choices(&c.Choices)
		case 3:
			return s.usage(&c.Usage)
		}
		start := s.pos
		if !s.skip(0) {
			return false
		}
		c.Error = append(json.RawMessage(nil), s.data[start:s.pos]...)
		return true
	})
	s.ws()
	return ok && s.pos == len(s.data)
}

// index returns the position of key among names, -1 when it is none of
// them, and -2 (refusing the input) when it matches one only ignoring case,
// as encoding/json would accept.
func index(key []byte, names ...string) int {
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	for _, n := range names {
		if len(key) == len(n) && equalFoldASCII(key, n) {
			return -2
		}
	}
	return -1
}

// equalFoldASCII reports whether key, which holds only ASCII, equals n
// ignoring case.
func equalFoldASCII(key []byte, n string) bool {
	for i := range key {
		a, b := key[i]|0x20, n[i]|0x20
		if a != b {
			return false
		}
	}
	return true
}

// object reads an object, calling member after each key with the scanner
// at the key's value; member must consume the value.
func (s *chunkScanner) object(member func(key []byte) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		key, ok := s.key()
		if !ok || !s.consume(':') {
			return false
		}
		s.ws()
		if !member(key) {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// key reads an object key made of printable ASCII without escapes.
func (s *chunkScanner) key() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.pos
	for s.pos < len(s.data) && !special[s.data[s.pos]] {
		s.pos++
	}
	if s.pos < len(s.data) && s.data[s.pos] == '"' {
		s.pos++
		return s.data[start : s.pos-1], true
	}
	return nil, false
}

// stringInto reads a string, or null (which leaves *dst alone).
func (s *chunkScanner) stringInto(dst *string) bool {
	if s.null() {
		return true
	}
	v, ok := s.str()
	if ok {
		*dst = v
	}
	return ok
}

// internInto reads a string, or null (which leaves *dst alone); a string
// equal to prev is stored as prev, without a copy.
func (s *chunkScanner) internInto(dst *string, prev string) bool {
	if s.null() {
		return true
	}
	raw, v, esc, ok := s.strRaw()
	switch {
	case !ok:
		return false
	case esc:
		*dst = v
	case string(raw) == prev:
		*dst = prev
	default:
		*dst = string(raw)
	}
	return true
}

// null consumes a null literal, if that is what comes next.
func (s *chunkScanner) null() bool {
	if s.peek() == 'n' && len(s.data)-s.pos >= 4 && string(s.data[s.pos:s.pos+4]) == "null" {
		s.pos += 4
		return true
	}
	return false
}

// str reads a string value. It refuses invalid UTF-8 and \u escapes of
// surrogates, which encoding/json replaces with U+FFFD.
func (s *chunkScanner) str() (string, bool) {
	raw, v, esc, ok := s.strRaw()
	if esc || !ok {
		return v, ok
	}
	return string(raw), true
}

// strRaw reads a string value as str does. A string without escapes is
// returned as raw, its bytes in the input; one with escapes is decoded
// into v, with esc set.
func (s *chunkScanner) strRaw() (raw []byte, v string, esc, ok bool) {
	if !s.consume('"') {
		return nil, "", false, false
	}
	start := s.pos
	ascii := true
	for s.pos < len(s.data) {
		for s.pos < len(s.data) && !special[s.data[s.pos]] {
			s.pos++
		}
		if s.pos == len(s.data) {
			break
		}
		b := s.data[s.pos]
		switch {
		case b == '"':
			raw := s.data[start:s.pos]
			s.pos++
			if !ascii && !utf8.Valid(raw) {
				return nil, "", false, false
			}
			return raw, "", false, true
		case b == '\\':
			v, ok := s.escaped(start)
			return nil, v, true, ok
		case b < 0x20:
			return nil, "", false, false
		case b >= 0x80:
			ascii = false
		}
		s.pos++
	}
	return nil, "", false, false
}

// escaped finishes reading a string that has escapes, from its start.
func (s *chunkScanner) escaped(start int) (string, bool) {
	buf := make([]byte, 0, s.pos-start+16)
	buf = append(buf, s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		b := s.data[s.pos]
		switch {
		case b == '"':
			s.pos++
			if !utf8.Valid(buf) {
				return "", false
			}
			return string(buf), true
		case b < 0x20:
			return "", false
		case b != '\\':
			buf = append(buf, b)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.data) {
			return "", false
		}
		e := s.data[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if s.pos+4 > len(s.data) {
				return "", false
			}
			r, err := strconv.ParseUint(string(s.data[s.pos:s.pos+4]), 16, 32)
			if err != nil || (r >= 0xd800 && r < 0xe000) {
				return "", false
			}
			s.pos += 4
			buf = utf8.AppendRune(buf, rune(r))
		default:
			return "", false
		}
	}
	return "", false
}

// choices reads the choices array, or null (which sets it to nil).
func (s *chunkScanner) choices(dst *[]choice) bool {
	if s.null() {
		*dst = nil
		return true
	}
	if !s.consume('[') {
		return false
	}
	out := s.choiceBuf
	if out == nil {
		out = []choice{}
	}
	if s.consume(']') {
		*dst = out
		return true
	}
	for {
		var ch choice
		if !s.choice(&ch, len(out) == 0) {
			return false
		}
		out = append(out, ch)
		if s.consume(',') {
			continue
		}
		if !s.consume(']') {
			return false
		}
		*dst = out
		return true
	}
}

// choice reads one element of choices, which must be an object; first
// says whether it is the first.
func (s *chunkScanner) choice(ch *choice, first bool) bool {
	var seen [3]bool
	return s.object(func(key []byte) bool {
		i := index(key, "delta", "message", "finish_reason")
		if i < 0 {
			if i == -2 {
				return false
			}
			return s.skip(0)
		}
		if seen[i] {
			return false
		}
		seen[i] = true
		switch i {
		case 0:
			s.inFirstDelta = first
			ok := s.message(&ch.Delta)
			s.inFirstDelta = false
			return ok
		case 1:
			return s.message(&ch.Message)
		}
		return s.stringInto(&ch.FinishReason)
	})
}

// message reads a delta or message object, or null.
func (s *chunkScanner) message(m *messageContent) bool {
	if s.null() {
		return true
	}
	seen := false
	return s.object(func(key []byte) bool {
		switch index(key, "content") {
		case 0:
			if seen {
				return false
			}
			seen = true
			if !s.inFirstDelta {
				return s.stringInto(&m.Content)
			}
			s.ws()
			start := s.pos
			if !s.stringInto(&m.Content) {
				return false
			}
			s.content = [2]int{start, s.pos}
			return true
		case -1:
			return s.skip(0)
		}
		return false
	})
}

// usage reads the usage object, or null (which sets it to nil).
func (s *chunkScanner) usage(dst **usage) bool {
	if s.null() {
		*dst = nil
		return true
	}
	u := &usage{}
	var seen [3]bool
	ok := s.object(func(key []byte) bool {
		i := index(key, "prompt_tokens", "completion_tokens", "cost")
		if i == -1 {
			return s.skip(0)
		}
		if i < 0 || seen[i] {
			return false
		}
		seen[i] = true
		if s.null() {
			return true
		}
		num, ok := s.number()
		if !ok {
			return false
		}
		var err error
		switch i {
		case 0:
			u.PromptTokens, err = strconv.ParseInt(string(num), 10, 64)
		case 1:
			u.CompletionTokens, err = strconv.ParseInt(string(num), 10, 64)
		default:
			u.Cost, err = strconv.ParseFloat(string(num), 64)
		}
		return err == nil
	})
	if ok {
		*dst = u
	}
	return ok
}

// number reads a number as JSON's grammar has it and returns its text.
func (s *chunkScanner) number() ([]byte, bool) {
	start := s.pos
	d := s.data
	if s.pos < len(d) && d[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(d) && d[s.pos] == '0':
		s.pos++
	case s.pos < len(d) && d[s.pos] >= '1' && d[s.pos] <= '9':
		s.digits()
	default:
		return nil, false
	}
	if s.pos < len(d) && d[s.pos] == '.' {
		s.pos++
		if !s.digits() {
			return nil, false
		}
	}
	if s.pos < len(d) && (d[s.pos] == 'e' || d[s.pos] == 'E') {
		s.pos++
		if s.pos < len(d) && (d[s.pos] == '+' || d[s.pos] == '-') {
			s.pos++
		}
		if !s.digits() {
			return nil, false
		}
	}
	return d[start:s.pos], true
}

// digits consumes one or more digits.
func (s *chunkScanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}

// skip reads and checks any value without keeping it.
func (s *chunkScanner) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	switch s.peek() {
	case '{':
		return s.object(func([]byte) bool { return s.skip(depth + 1) })
	case '[':
		s.pos++
		if s.consume(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.consume(',') {
				continue
			}
			return s.consume(']')
		}
	case '"':
		_, _, _, ok := s.strRaw()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.null()
	}
	_, ok := s.number()
	return ok
}

func (s *chunkScanner) literal(lit string) bool {
	if len(s.data)-s.pos >= len(lit) && string(s.data[s.pos:s.pos+len(lit)]) == lit {
		s.pos += len(lit)
		return true
	}
	return false
}
