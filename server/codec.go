package server

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// encodedMessage is a message already in protobuf's wire format, which
// [passThroughCodec] sends as it is.
type encodedMessage []byte

// passThroughCodec is the server's codec: protobuf's, except that an
// [encodedMessage] is sent as it is. An event is encoded once, for the
// event log, and those bytes are what its clients receive, whether it is
// delivered as it happens or replayed from the log.
type passThroughCodec struct{ encoding.CodecV2 }

// newPassThroughCodec returns protobuf's codec with encoded messages
// passed through.
func newPassThroughCodec() passThroughCodec {
	return passThroughCodec{encoding.GetCodecV2(proto.Name)}
}

// Marshal returns an [encodedMessage] as it is and encodes anything else
// with protobuf's codec. The bytes of an encoded message are read, never
// changed.
func (c passThroughCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(encodedMessage); ok {
		return mem.BufferSlice{mem.SliceBuffer(m)}, nil
	}
	return c.CodecV2.Marshal(v)
}
