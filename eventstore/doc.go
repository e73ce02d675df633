// Package eventstore appends sealed events to the JetStream stream that is the
// ledger, and reads them back.
//
// One Writer per process owns the write side: it decides commands against the
// domain state, seals their events into the hash chain and publishes each
// group of concurrent commands as one JetStream atomic batch (group commit).
// Every batch carries Nats-Expected-Last-Sequence, so writers in several
// processes can never fork the chain: the loser catches up and retries.
package eventstore
