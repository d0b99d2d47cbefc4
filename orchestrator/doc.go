// Package orchestrator runs a consultation of an LLM council in three
// stages and reports every step as a typed, sequence-numbered [Event]:
//
//  1. Collect: every council model answers the question in parallel; each
//     answer is emitted the moment it arrives.
//  2. Review: every model that answered ranks the others' answers, shown
//     under labels shuffled per reviewer and without its own answer; each
//     ranking is emitted as it arrives and the rankings are aggregated.
//     Synthesis starts once [Config.ReviewQuorum] of the rankings are in;
//     rankings that arrive later are still emitted, marked late.
//  3. Synthesize: the chairman writes the final answer from the answers,
//     the rankings and the aggregate, streamed as it is written. A failed
//     chairman falls back to another model.
//
// A consultation with too few answers, or without any chairman that could
// answer, ends with an error after the events that explain it; an error is
// never passed off as an answer.
//
// The package depends on the provider abstraction and the OpenTelemetry API
// only; it knows nothing of gRPC.
package orchestrator
