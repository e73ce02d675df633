// Package policy is where compliance rules are evaluated. Its
// subpackages each do one job: evidence turns uploaded files (JUnit,
// SARIF, Snyk, SonarQube, Jira) into an attestation status; custom runs
// Kosli custom attestation types (jq rules, JSON Schema); envpolicy parses
// and evaluates Kosli environment policies. OPA/Rego evaluation and the
// deployment gate come later (see README, "Not yet").
package policy
