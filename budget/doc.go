// Package budget enforces per-caller spending budgets: each caller may
// spend so many US dollars per period (a UTC day or month), set in a
// [Config] read from a YAML file, with a default for callers without a
// budget of their own.
//
// # Stores
//
// Spend is kept in a [Store] under one key per caller and period, which
// expires when the period ends. [Memory] keeps it in the process;
// [Redis] keeps it in a Redis that several replicas share, updated
// atomically, so that every replica counts every replica's spend.
//
// # Enforcement
//
// [Budgets.Check] is asked before a consultation and refuses a caller
// whose budget is spent with an [*ExceededError], which says when the
// period resets; [Budgets.Record] adds a finished consultation's actual
// cost. When the store fails, the spend is counted in a local [Memory]
// instead, so that the replica goes on enforcing what it sees itself.
package budget
