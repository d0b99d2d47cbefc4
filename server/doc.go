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
// reflection (see [WithReflection]), keepalive settings suited to long
// streams, message size limits, optional TLS or mutual TLS ([WithTLS]) and
// the interceptor chain (outermost first): request logging (start and finish
// only, never payloads or metadata), panic recovery, optional bearer-token
// authentication ([WithBearerTokens]; health checks stay open), admission
// control of consultations, then any interceptors passed with
// [WithStreamInterceptors] or [WithUnaryInterceptors]. [Server.Serve] blocks
// until its context ends and then drains in-flight calls.
//
// # Limits
//
// Admission control bounds the consultations running at once, overall
// ([WithMaxConsultations]) and per caller ([WithMaxConsultationsPerCaller]),
// and, with [WithAdaptiveAdmission], under a limit that follows the capacity
// the server measures (reason OVERLOADED; see package admission). A
// consultation past a limit fails at once with ResourceExhausted, a
// google.rpc.QuotaFailure naming the limit and a google.rpc.RetryInfo, so
// that load beyond capacity is refused quickly instead of slowing every
// consultation down. A call without a valid bearer token fails with
// Unauthenticated.
package server
