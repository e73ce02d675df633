// Package ledger defines Factstore's event envelope and everything that makes
// the ledger tamper-evident: the canonical encoding (RFC 8785), the SHA-256
// hash chain, Ed25519 signatures, and verification of a sequence of envelopes.
//
// The package is pure: it does no I/O except reading and writing the signing
// key file, so auditors can call Verify on envelopes they obtained any way.
package ledger
