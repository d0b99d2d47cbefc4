// Package consultation runs consultations apart from the calls that asked
// for them, so that a client may leave and come back: it records every
// event in an [eventlog.Log], lets other calls replay and follow a
// consultation (Watch, or a Consult that repeats a request id), keeps a
// consultation whose client left running for a grace period, and renews
// the leases that tell other replicas it is still alive. It knows nothing
// of gRPC: events and statuses are opaque bytes.
//
// # Lifecycle
//
// [Manager.Consult] either runs a new consultation in the calling
// goroutine or, when the caller already used the request id within the
// log's retention, follows the first consultation from its first event.
// Each event is appended to the log before it is delivered, so a client
// that saw event N can always resume after N. When the client goes away:
//   - without a request id the consultation is cancelled at once, as no
//     one could find it again;
//   - with one it keeps running for the detached grace, and for as long
//     after that as someone reads its log (a Watch on any replica); then
//     it is cancelled with [ErrAbandoned].
//
// [Manager.Consult] returns only when the consultation has ended, so the
// server's graceful stop waits for detached consultations too;
// [Manager.CancelAll] ends them when the drain timeout runs out.
//
// # When the log fails
//
// A consultation never waits on a failing log: when creating or appending
// fails, the consultation goes on unrecorded (it cannot be watched, and its
// lease lapses so watchers elsewhere learn it is lost), the failure is
// logged once, and new consultations skip the log for [LogRetryAfter].
package consultation
