// Package server is the gRPC adapter of the council service: it serves the
// council.v1.Council API on top of a [Consulter] (an *orchestrator.Council in
// production).
//
// # Responsibilities
//
// The package validates requests, converts protobuf messages to domain types
// and domain events back to protobuf, writes each Consult stream from a
// single goroutine, and maps every error to a gRPC status in one place. Every
// non-OK status carries a google.rpc.ErrorInfo with domain "council.v1";
// invalid requests also carry a google.rpc.BadRequest naming the fields.
//
// # Server
//
// [New] builds a grpc.Server with the standard health service, server
// reflection, keepalive settings suited to long streams, message size limits
// and the interceptor chain (outermost first): request logging (start and
// finish only, never payloads), panic recovery, then any interceptors passed
// with [WithStreamInterceptors] or [WithUnaryInterceptors]. [Server.Serve]
// blocks until its context ends and then drains in-flight calls.
package server
