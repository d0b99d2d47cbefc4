package eventlog

import (
	"context"
	"errors"
	"time"
)

// Default settings.
const (
	// DefaultRetention is how long a log is kept after its consultation
	// ends.
	DefaultRetention = 10 * time.Minute
	// DefaultLease is how long a running consultation's log stays alive
	// without [Log.Renew]; a replica renews its consultations every third
	// of it.
	DefaultLease = 10 * time.Second
	// WatchMark is how long a [Log.Read] counts as a reader's presence
	// for [Log.Watched].
	WatchMark = 3 * time.Second
	// MaxWait bounds the wait of one [Log.Read], so that a reader checks
	// the lease at least this often.
	MaxWait = time.Second
)

var (
	// ErrNotFound: no log has this id, or it has expired.
	ErrNotFound = errors.New("eventlog: no such consultation")
	// ErrEnded: the log already has its end.
	ErrEnded = errors.New("eventlog: consultation already ended")
	// ErrSequence: an event's sequence number does not follow the last.
	ErrSequence = errors.New("eventlog: event out of sequence")
)

// Info describes one consultation's log.
type Info struct {
	// ID is the consultation id.
	ID string
	// Owner is who started it; readers check it.
	Owner string
	// RequestID is the client's request id; empty means none, and then
	// Create claims nothing.
	RequestID string
	// Fingerprint identifies the request's content, to tell a retry from
	// another request that reuses the request id.
	Fingerprint string
}

// Entry is one event.
type Entry struct {
	// Seq is the event's sequence number, from 1.
	Seq uint64
	// Data is the encoded event.
	Data []byte
}

// Batch is what one [Log.Read] found.
type Batch struct {
	// Owner is the consultation's owner.
	Owner string
	// Entries are the events after the sequence asked for, in order.
	Entries []Entry
	// Ended is true when the log has its end, which comes after Entries.
	Ended bool
	// End is the encoded final status when Ended.
	End []byte
	// Lost is true when the consultation's lease expired before it
	// ended: the replica that ran it is gone and the log will not grow.
	Lost bool
}

// Log stores consultations' events. Implementations are safe for
// concurrent use.
type Log interface {
	// Create starts the log of info.ID. When info.RequestID is not empty
	// and info.Owner has used it within the retention, Create starts
	// nothing and returns the earlier consultation's Info and false,
	// unless the earlier one was lost.
	Create(ctx context.Context, info Info) (Info, bool, error)
	// Append adds an event; its Seq must follow the last one's
	// (ErrSequence otherwise). ErrEnded after End, ErrNotFound for an
	// unknown or expired log. The log may keep e.Data: the caller must
	// not change it afterwards.
	Append(ctx context.Context, id string, e Entry) error
	// End records the final status; the log is then kept for the
	// retention. ErrEnded when it already ended.
	End(ctx context.Context, id string, status []byte) error
	// Read returns the events after sequence after, at most limit of
	// them (0: no limit), and the end once every event has been read.
	// When there is nothing to return yet it waits for at most wait
	// (capped at MaxWait), returning an empty Batch if nothing came.
	// ErrNotFound for an unknown or expired log.
	Read(ctx context.Context, id string, after uint64, limit int, wait time.Duration) (Batch, error)
	// Watched reports whether a Read of id happened within the last
	// WatchMark.
	Watched(ctx context.Context, id string) (bool, error)
	// Renew keeps the logs of running consultations alive for another
	// lease.
	Renew(ctx context.Context, ids []string) error
}
