// Package admission decides how many consultations may run at once from
// the capacity the machine shows, not only from a configured count.
//
// The signal is the delay the process adds to its own work: how long
// runnable goroutines wait for a CPU (the Go scheduler latency,
// runtime/metrics "/sched/latencies:seconds"). Every event a consultation
// sends and every upstream byte it reads waits that long, so it grows with
// our own CPU saturation and queueing and not with the upstream models'
// latency, which dominates a consultation's duration but is not our
// overload.
//
// [Limit] is the algorithm, a gradient controller in the manner of
// Netflix's concurrency-limits and Envoy's adaptive concurrency filter:
// once per window it compares the window's delay (a high percentile) with
// the lowest delay seen, the no-load baseline. Within the tolerance, a
// limit that is in use grows by its square root; beyond it, the limit is
// cut in proportion to how far the delay overshoots, by 10 % to 50 % per
// window. [Controller] applies a Limit to running consultations and feeds it
// from the scheduler. Calls past the limit are refused at once, so the
// consultations that are admitted keep their latency.
package admission
