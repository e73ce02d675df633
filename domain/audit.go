package domain

import (
	"encoding/json"
	"strings"
)

// legacyAuditTypes are the original API's audit event names, kept so that
// existing audit queries keep working.
var legacyAuditTypes = map[string]string{
	"artifact.reported":    "ARTIFACT_DEPLOYED",
	"artifact.removed":     "ARTIFACT_REMOVED",
	"artifact.updated":     "ARTIFACT_UPDATED",
	"attestation.recorded": "ATTESTATION_RECORDED",
	"approval.granted":     "APPROVAL_GRANTED",
	"approval.rejected":    "APPROVAL_REJECTED",
	"environment.created":  "ENVIRONMENT_CREATED",
	"environment.deleted":  "ENVIRONMENT_DELETED",
	"policy.evaluated":     "POLICY_EVALUATED",
	"gate.allowed":         "GATE_ALLOWED",
	"gate.blocked":         "GATE_BLOCKED",
}

// AuditEventType is the audit API's name for an event type: the original's
// upper-case name where one exists, otherwise the upper-cased envelope type
// with dots as underscores (trail.started -> TRAIL_STARTED).
func AuditEventType(eventType string, data json.RawMessage) string {
	if t := legacyAuditTypes[eventType]; t != "" {
		return t
	}
	if eventType == "compliance.asserted" {
		var v struct {
			Compliant bool `json:"compliant"`
		}
		_ = json.Unmarshal(data, &v)
		if v.Compliant {
			return "GATE_ALLOWED"
		}
		return "GATE_BLOCKED"
	}
	return strings.ToUpper(strings.ReplaceAll(eventType, ".", "_"))
}

// AuditSubjects extracts the trail, environment and artifact digest an event
// is about, for the audit API's columns and filters.
func AuditSubjects(aggregate, aggregateID string, data json.RawMessage) (trailID, environmentID, artifactSha256 string) {
	var v struct {
		TrailID       string `json:"trailId"`
		EnvironmentID string `json:"environmentId"`
		Sha256Digest  string `json:"sha256Digest"`
	}
	_ = json.Unmarshal(data, &v)
	trailID, environmentID, artifactSha256 = v.TrailID, v.EnvironmentID, v.Sha256Digest
	switch aggregate {
	case "trail":
		trailID = aggregateID
	case "environment":
		environmentID = aggregateID
	}
	return trailID, environmentID, artifactSha256
}
