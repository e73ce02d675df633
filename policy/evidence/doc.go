// Package evidence decides an attestation's status from an uploaded evidence
// file. The attestation's type picks a processor (JUnit XML, SARIF 2.1.0, Snyk,
// SonarQube quality gate, Jira key); the processor reads the file's bytes and
// returns PASSED or FAILED with a compact JSON summary of what it found.
//
// A file that is not what its type promises is refused with an error wrapping
// ErrUnparseable rather than guessed at: evidence gates a deployment, so an
// unreadable report must never turn into PASSED.
package evidence
