// Package policy will hold OPA/Rego compliance and deployment-gate
// evaluation. It is empty in this release: flows, the ledger and audit come
// first (see README, "Not yet").
package policy
