package projections

import (
	"encoding/json"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/ledger"
)

// decodeFlow decodes the payload of flow.created and flow.updated.
//
// Flow events are most of a typical ledger, and encoding/json's reflection,
// its validating pre-scan and its rune-by-rune unquoting of the description
// were the largest cost of a rebuild. Payloads are stored canonical (RFC
// 8785: members sorted, no whitespace), so decodeFlowFast reads exactly that
// layout of domain.Flow with a ledger.Scanner (6× faster); anything else (an
// older layout, a field a later release adds) goes to encoding/json, which
// stays the reference: where the fast path succeeds its result equals
// json.Unmarshal's (TestDecodeFlowMatchesEncodingJSON, FuzzDecodeFlow), and
// it accepts only well-formed JSON, so a payload that is not JSON still
// fails here.
func decodeFlow(data []byte) (domain.Flow, error) {
	if f, ok := decodeFlowFast(data); ok {
		return f, nil
	}
	var f domain.Flow
	err := json.Unmarshal(data, &f)
	return f, err
}

// decodeFlowFast reads a canonical flow payload; ok=false means "not that
// layout", not "invalid".
func decodeFlowFast(data []byte) (f domain.Flow, ok bool) {
	p := ledger.NewScanner(data)
	ok = p.Lit(`{"createdAt":`) && p.Time(&f.CreatedAt) &&
		p.Lit(`,"description":`) && p.Str(&f.Description) &&
		p.Lit(`,"id":`) && p.Str(&f.ID) &&
		p.Lit(`,"name":`) && p.Str(&f.Name) &&
		p.Lit(`,"orgSlug":`) && p.OptStr(&f.OrgSlug) &&
		p.Lit(`,"requiredApproverRoles":`) && p.Strs(&f.RequiredApproverRoles) &&
		p.Lit(`,"requiredAttestationTypes":`) && p.Strs(&f.RequiredAttestationTypes) &&
		p.Lit(`,"requiresApproval":`) && p.Bool(&f.RequiresApproval) &&
		p.Lit(`,"tags":`) && p.StrMap(&f.Tags) &&
		p.Lit(`,"templateYaml":`) && p.OptStr(&f.TemplateYAML) &&
		p.Lit(`,"updatedAt":`) && p.Time(&f.UpdatedAt) &&
		p.Lit(`}`) && p.End()
	return f, ok
}
