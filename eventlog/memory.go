package eventlog

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// DefaultCapacity is how many ended consultations a [Memory] keeps at
// most, whatever their age.
const DefaultCapacity = 10000

// Memory is a [Log] in process memory, for a councild that runs alone. It
// keeps every running consultation and, in a ring, the ended ones until
// they are older than the retention or the ring is full. An ended log is
// kept compressed (zstd: a third to a half of its size), since it
// is read only when a client resumes after the end. Its logs are never
// lost: the consultations they follow run in the same process.
type Memory struct {
	retention time.Duration
	capacity  int
	now       func() time.Time

	mu       sync.Mutex
	logs     map[string]*memLog
	requests map[requestKey]string
	// ended lists ended consultations in the order they ended, which is
	// also the order they expire in.
	ended []string
}

type requestKey struct{ owner, requestID string }

type memLog struct {
	info    Info
	entries []Entry
	// packed holds the entries of an ended log once End has compressed
	// them (see pack); entries is then nil and count their number.
	packed   []byte
	count    int
	ended    bool
	end      []byte
	endedAt  time.Time
	lastRead time.Time
	// changed is closed, and replaced, whenever the log grows.
	changed chan struct{}
}

// MemoryOption configures a [Memory].
type MemoryOption func(*Memory)

// WithCapacity sets how many ended consultations are kept at most; the
// oldest is dropped first. Default [DefaultCapacity]; zero or less is
// ignored.
func WithCapacity(n int) MemoryOption {
	return func(m *Memory) {
		if n > 0 {
			m.capacity = n
		}
	}
}

// WithClock sets the clock retention is measured with. Default time.Now.
func WithClock(now func() time.Time) MemoryOption {
	return func(m *Memory) {
		if now != nil {
			m.now = now
		}
	}
}

// NewMemory returns an empty in-memory log that keeps ended consultations
// for retention ([DefaultRetention] when zero or less).
func NewMemory(retention time.Duration, opts ...MemoryOption) *Memory {
	if retention <= 0 {
		retention = DefaultRetention
	}
	m := &Memory{
		retention: retention,
		capacity:  DefaultCapacity,
		now:       time.Now,
		logs:      make(map[string]*memLog),
		requests:  make(map[requestKey]string),
	}
	for _, o := range opts {
		if o != nil {
			o(m)
		}
	}
	return m
}

var _ Log = (*Memory)(nil)

// Create implements [Log].
func (m *Memory) Create(_ context.Context, info Info) (Info, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trim()
	key := requestKey{info.Owner, info.RequestID}
	if info.RequestID != "" {
		if id, ok := m.requests[key]; ok {
			return m.logs[id].info, false, nil
		}
	}
	if _, ok := m.logs[info.ID]; ok {
		return Info{}, false, ErrEnded
	}
	m.logs[info.ID] = &memLog{info: info, changed: make(chan struct{})}
	if info.RequestID != "" {
		m.requests[key] = info.ID
	}
	return info, true, nil
}

// Append implements [Log].
func (m *Memory) Append(_ context.Context, id string, e Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.running(id)
	if err != nil {
		return err
	}
	if e.Seq != uint64(len(l.entries))+1 {
		return ErrSequence
	}
	l.entries = append(l.entries, e)
	l.notify()
	return nil
}

// End implements [Log]. The log's entries are compressed after it ends:
// they do not change any more, and readers meanwhile read them as they are.
func (m *Memory) End(_ context.Context, id string, status []byte) error {
	m.mu.Lock()
	l, err := m.running(id)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	l.ended, l.end, l.endedAt = true, slices.Clone(status), m.now()
	m.ended = append(m.ended, id)
	l.notify()
	m.trim()
	entries := l.entries
	m.mu.Unlock()

	packed := pack(entries)
	m.mu.Lock()
	l.packed, l.count, l.entries = packed, len(entries), nil
	m.mu.Unlock()
	return nil
}

// Read implements [Log].
func (m *Memory) Read(ctx context.Context, id string, after uint64, limit int, wait time.Duration) (Batch, error) {
	b, changed, err := m.read(id, after, limit)
	if err != nil || len(b.Entries) > 0 || b.Ended || wait <= 0 {
		return b, err
	}
	t := time.NewTimer(min(wait, MaxWait))
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
		return b, nil
	case <-ctx.Done():
		return b, ctx.Err()
	}
	b, _, err = m.read(id, after, limit)
	return b, err
}

// read collects what Read returns without waiting, and the channel that
// is closed when there is more.
func (m *Memory) read(id string, after uint64, limit int) (Batch, <-chan struct{}, error) {
	m.mu.Lock()
	m.trim()
	l, ok := m.logs[id]
	if !ok {
		m.mu.Unlock()
		return Batch{}, nil, ErrNotFound
	}
	l.lastRead = m.now()
	b := Batch{Owner: l.info.Owner}
	entries, packed, count := l.entries, l.packed, len(l.entries)
	if packed != nil {
		count = l.count
	}
	ended, end, changed := l.ended, l.end, l.changed
	m.mu.Unlock()

	if after < uint64(count) {
		if packed != nil {
			entries = unpack(packed, count)
		}
		rest := entries[after:]
		if limit > 0 && len(rest) > limit {
			rest = rest[:limit]
		}
		b.Entries = slices.Clone(rest)
	}
	if ended && after+uint64(len(b.Entries)) >= uint64(count) {
		b.Ended, b.End = true, slices.Clone(end)
	}
	return b, changed, nil
}

// Watched implements [Log].
func (m *Memory) Watched(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.logs[id]
	if !ok {
		return false, ErrNotFound
	}
	return !l.lastRead.IsZero() && m.now().Sub(l.lastRead) < WatchMark, nil
}

// Renew implements [Log]; a Memory's running logs need no renewal.
func (m *Memory) Renew(context.Context, []string) error { return nil }

// Len returns how many logs the Memory holds, running and ended.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trim()
	return len(m.logs)
}

// running returns the log of a running consultation; m.mu is held.
func (m *Memory) running(id string) (*memLog, error) {
	l, ok := m.logs[id]
	switch {
	case !ok:
		return nil, ErrNotFound
	case l.ended:
		return nil, ErrEnded
	}
	return l, nil
}

// trim drops the ended logs past the retention or the capacity; m.mu is
// held.
func (m *Memory) trim() {
	now := m.now()
	n := 0
	for n < len(m.ended) {
		l := m.logs[m.ended[n]]
		if len(m.ended)-n <= m.capacity && now.Sub(l.endedAt) < m.retention {
			break
		}
		delete(m.logs, m.ended[n])
		if l.info.RequestID != "" {
			delete(m.requests, requestKey{l.info.Owner, l.info.RequestID})
		}
		n++
	}
	if n > 0 {
		m.ended = slices.Delete(m.ended, 0, n)
	}
}

// notify wakes the readers waiting for l to grow; the Memory's mu is held.
func (l *memLog) notify() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// zstdCodec compresses and decompresses ended logs; both are safe for
// concurrent use and built at the first use.
var zstdCodec = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(false))
	if err != nil {
		panic(err) // only invalid options fail
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderLowmem(true), zstd.WithDecoderConcurrency(0))
	if err != nil {
		panic(err)
	}
	return enc, dec
})

// pack compresses entries, numbered from 1, into one buffer: each entry's
// data preceded by its length as a uvarint.
func pack(entries []Entry) []byte {
	n := 0
	for _, e := range entries {
		n += binary.MaxVarintLen32 + len(e.Data)
	}
	raw := make([]byte, 0, n)
	for _, e := range entries {
		raw = binary.AppendUvarint(raw, uint64(len(e.Data)))
		raw = append(raw, e.Data...)
	}
	enc, _ := zstdCodec()
	// Compressed into room for the worst case, then kept at its own size.
	return slices.Clone(enc.EncodeAll(raw, make([]byte, 0, len(raw))))
}

// unpack returns the count entries that pack compressed into packed.
func unpack(packed []byte, count int) []Entry {
	_, dec := zstdCodec()
	raw, err := dec.DecodeAll(packed, nil)
	if err != nil {
		panic(fmt.Sprintf("eventlog: a packed log does not decode: %v", err)) // pack wrote it
	}
	entries := make([]Entry, count)
	for i := range entries {
		size, k := binary.Uvarint(raw)
		raw = raw[k:]
		entries[i] = Entry{Seq: uint64(i) + 1, Data: raw[:size:size]}
		raw = raw[size:]
	}
	return entries
}
