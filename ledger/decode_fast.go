package ledger

// decodeFast decodes an envelope stored in exactly the layout Seal writes
// (canonical members in order, then hash, keyId and sig) with a Scanner:
// about a third of encoding/json's cost. It gives up (ok=false) on
// anything else and the caller falls back to encoding/json; where it
// succeeds its result equals json.Unmarshal's (see
// TestDecodeFastMatchesEncodingJSON).
//
// With skipDataScan the data member is only bracket-matched, not checked to
// be well-formed JSON: for callers that decode every payload anyway (see
// Checker.DataChecked).
func decodeFast(raw []byte, skipDataScan bool) (e *Envelope, ok bool) {
	p := NewScanner(raw)
	e = new(Envelope)
	if !p.Lit(`{"actor":`) || !p.Str(&e.Actor) ||
		!p.Lit(`,"aggregate":`) || !p.Str(&e.Aggregate) ||
		!p.Lit(`,"aggregateId":`) || !p.Str(&e.AggregateID) ||
		!p.Lit(`,"data":`) || !p.object(&e.Data, skipDataScan) ||
		!p.Lit(`,"id":`) || !p.Str(&e.ID) ||
		!p.Lit(`,"org":`) || !p.Str(&e.Org) ||
		!p.Lit(`,"prev":`) || !p.Str(&e.Prev) ||
		!p.Lit(`,"seq":`) || !p.uint(&e.Seq) ||
		!p.Lit(`,"time":`) || !p.Str(&e.Time) ||
		!p.Lit(`,"type":`) || !p.Str(&e.Type) ||
		!p.Lit(`,"v":`) || !p.int(&e.V) ||
		!p.Lit(`,"hash":`) || !p.Str(&e.Hash) ||
		!p.Lit(`,"keyId":`) || !p.Str(&e.KeyID) ||
		!p.Lit(`,"sig":`) || !p.Str(&e.Sig) ||
		!p.Lit(`}`) || !p.End() {
		return nil, false
	}
	return e, true
}
