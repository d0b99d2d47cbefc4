// Package sim is a simulated council: a [provider.Completer] that answers
// like a set of real models, without a key or a network.
//
// Each model has a [Profile] with its time to first token, time to a full
// answer, jitter and failure behaviour. Calls wait on real timers, so a
// consultation through the simulator takes as long as the profiles say,
// and every wait ends as soon as the caller's context does.
//
// # Content
//
// [Write] produces the text. It tells the three kinds of call apart by the
// request's [provider.MetaStage] metadata, or by the prompt when the metadata
// is absent:
//
//   - an answer (stage "collect") is a few paragraphs built around the
//     question's keywords;
//   - a ranking (stage "review") evaluates every "Response X" label found in
//     the prompt and ends with a "FINAL RANKING:" list of exactly those
//     labels, sometimes in the messy shapes real models produce;
//   - a synthesis (stage "synthesize") is a longer, structured final answer.
//
// The text depends only on the model and the prompt, so runs are repeatable.
// Usage is estimated at one token per four bytes and priced from a per-model
// table (see [Usage]).
package sim
