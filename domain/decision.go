package domain

import (
	"time"
)

// EventComplianceAsserted is the event type of an assertion's decision.
const EventComplianceAsserted = "compliance.asserted"

// ComplianceAsserted is the payload of compliance.asserted: a verdict a user
// relied on, with what it was based on, so that it can be reproduced.
type ComplianceAsserted struct {
	Assessment
	// LedgerSeq is the last ledger sequence the verdict saw.
	LedgerSeq uint64 `json:"ledgerSeq"`
	// AsOf is the point in time asked about, if any.
	AsOf *time.Time `json:"asOf,omitempty"`
	// InputDigest is the hex SHA-256 of the canonical request
	// ({sha256Digest, flowId, ledgerSeq}).
	InputDigest string    `json:"inputDigest"`
	CheckedAt   time.Time `json:"checkedAt"`
}

// RecordAssertion appends an assertion's decision to the ledger.
type RecordAssertion struct {
	Decision ComplianceAsserted
	// Org is the flow's organisation.
	Org string
}

// Decide implements Command. The verdict was reached on the read models at
// Decision.LedgerSeq; deciding only checks it names a flow.
func (c RecordAssertion) Decide(_ *State, now time.Time) ([]Event, error) {
	if c.Decision.FlowID == "" {
		return nil, Invalid("flowId", "is required")
	}
	d := c.Decision
	d.CheckedAt = now.UTC()
	return []Event{{Type: EventComplianceAsserted, Org: orgOrNone(c.Org), Aggregate: AggregateFlow, AggregateID: d.FlowID, Data: &d}}, nil
}
