// Package streams reads a server-streaming gRPC call to its end, for the
// tests and tools that need every event of a consultation.
package streams

import (
	"errors"
	"io"
)

// Receiver is the receiving side of a server-streaming call, such as a
// Consult or Watch client stream.
type Receiver[T any] interface {
	Recv() (T, error)
}

// ReadAll receives until the stream ends and returns what it received, with
// nil for a stream that ended with status OK and the stream's error
// otherwise.
func ReadAll[T any](s Receiver[T]) ([]T, error) {
	var out []T
	for {
		msg, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, msg)
	}
}
