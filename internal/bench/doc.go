// Package bench measures what the council service adds to the time its
// model calls take, the way a caller sees it: over gRPC, against a fake
// OpenRouter with fixed per-model latencies.
//
// A [Profile] names the council and chairman models and their latencies;
// [CriticalPath] computes the shortest possible consultation from them
// (every answer, the review quorum's rankings, the chairman's answer).
// An [Upstream] serves those models with [openroutertest] and records when
// the last byte of each answer was written. A [Client] runs consultations
// over a pool of gRPC connections and records when each event arrived;
// [Run] drives a single consultation, waves of concurrent ones and a
// zero-latency throughput run against any server address and turns them
// into a [Result]: latency percentiles and their ratios to a single
// consultation, time to the first event and to the first words of the
// final answer, and the delay between an upstream answer's last byte and
// its event reaching the client. [Process] starts councild as a separate
// process so that its peak resident memory is its own.
//
// The command cmd/councilbench (make bench) runs it all and prints the
// table of the README's Performance section.
package bench
