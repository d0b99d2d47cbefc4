// Package eventlog keeps the events of each consultation so that a client
// can replay them and follow the rest live, on any replica: an in-memory
// ring ([Memory]) when councild runs alone, Redis Streams ([Redis]) when
// replicas share a Redis.
//
// # Records
//
// A log holds a consultation's owner and request fingerprint ([Info]), its
// events in sequence order ([Entry], 1, 2, 3… with no gaps) and, once the
// consultation is over, its end: the final status. Events and the end are
// opaque bytes (package server stores encoded council.v1.ConsultResponse
// messages and google.rpc.Status messages), so that a replay ends exactly
// as the original stream did and this package needs no protobuf types.
//
// # Retention
//
// A log is kept for the retention after its consultation ends, then
// dropped; a reader then gets [ErrNotFound]. A running consultation keeps
// its log alive through [Log.Renew]; in Redis that also renews the
// consultation's lease, and a log whose lease expired before it ended is
// reported as lost ([Batch.Lost]), because the replica that ran it is gone.
//
// # Idempotency
//
// [Log.Create] claims the consultation's request id for its owner, once:
// a second Create with the same owner and request id within the retention
// creates nothing and returns the first consultation's Info, unless that
// consultation was lost (its lease lapsed before it ended). In Redis the
// claim and the creation are one Lua script, so two replicas racing with
// one request id cannot both win. Every other update is a Lua script too:
// no read-modify-write crosses a network round trip.
package eventlog
