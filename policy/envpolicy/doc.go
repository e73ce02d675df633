// Package envpolicy parses and evaluates Kosli environment policies (policy
// YAML schema v1, `kosli create policy NAME FILE` with type env).
//
// Parse validates a policy as strictly as Kosli's JSON Schema does (unknown
// keys are errors) and compiles every ${{ }} expression with the expression
// language of package domain, so a policy that was accepted cannot fail to
// compile later. Evaluate applies a policy to one artifact and returns the
// verdict in the shape of Kosli's policy_evaluations[i], which the Kosli CLI
// reads from assert responses: always one rule evaluation for provenance,
// one for trail-compliance and one per attestation rule, each with one
// resolution per (flow, trail) context in which the artifact was reported.
//
// Evaluation fails closed: an if: that cannot be evaluated makes its rule
// apply, and an exception that cannot be evaluated waives nothing.
package envpolicy
