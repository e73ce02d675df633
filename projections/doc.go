// Package projections folds the ledger stream into bbolt read models and
// answers queries from them.
//
// A single runner consumes the stream in order, checks every event's hash and
// its link to the previous one, and applies events in bbolt transactions of
// many events. The last applied sequence and hash are stored in the same
// transaction as the changes, so after a crash the runner resumes exactly
// where the durable state ends and nothing is applied twice. The runner halts
// at the first broken link. Rebuilding (dropping every bucket and replaying)
// gives byte-identical buckets: no projection reads the clock or randomness.
package projections
