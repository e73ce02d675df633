package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/factstore/factstore/domain"
)

// assertBody is the JSON of POST /api/v1/assert. asOf or atSeq ask how the
// ledger stood then; without them the verdict is about now.
type assertBody struct {
	Sha256Digest *string `json:"sha256Digest"`
	FlowID       *string `json:"flowId"`
	AsOf         *string `json:"asOf"`
	AtSeq        *uint64 `json:"atSeq"`
}

// assert answers whether an artifact complies with a flow. The verdict is
// reached on the read models at one ledger sequence (ledgerSeq) and, unless
// this is a dry run, recorded in the ledger as compliance.asserted before
// the answer goes out; the answer is that event's payload.
func (s *Server) assert(w http.ResponseWriter, r *http.Request) {
	var b assertBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	decision, org, err := s.evaluateAssert(b)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if isDryRun(r) {
		decision.CheckedAt = time.Now().UTC()
		writeJSON(w, http.StatusOK, dryRunBody{DryRun: true, WouldCreate: decision})
		return
	}
	out, err := s.write(w, r, domain.RecordAssertion{Decision: decision, Org: org})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeRaw(w, http.StatusOK, out.res.Events[0].Data)
}

func (s *Server) evaluateAssert(b assertBody) (domain.ComplianceAsserted, string, error) {
	var d domain.ComplianceAsserted
	if b.Sha256Digest == nil || *b.Sha256Digest == "" {
		return d, "", domain.Invalid("sha256Digest", "is required")
	}
	digest, err := digestParam("sha256Digest", *b.Sha256Digest)
	if err != nil {
		return d, "", err
	}
	if b.FlowID == nil || *b.FlowID == "" {
		return d, "", domain.Invalid("flowId", "is required")
	}
	if b.AsOf != nil && b.AtSeq != nil {
		return d, "", domain.Invalid("asOf", "give asOf or atSeq, not both")
	}
	var atSeq uint64
	switch {
	case b.AtSeq != nil:
		if *b.AtSeq == 0 {
			return d, "", domain.Invalid("atSeq", "must be a ledger sequence, 1 or more")
		}
		if head := s.cfg.Store.Applied(); *b.AtSeq > head {
			return d, "", domain.Invalid("atSeq", "is beyond the ledger head (%d)", head)
		}
		atSeq = *b.AtSeq
	case b.AsOf != nil:
		t, perr := time.Parse(time.RFC3339Nano, *b.AsOf)
		if perr != nil {
			return d, "", domain.Invalid("asOf", "must be an RFC 3339 time")
		}
		// The ledger as it stood at t holds every event recorded at or
		// before t: the one before the first event after t.
		next, serr := s.cfg.Store.SeqAt(t.Add(time.Nanosecond))
		if serr != nil {
			return d, "", serr
		}
		if next <= 1 {
			return d, "", domain.NotFound("flow", *b.FlowID)
		}
		atSeq = next - 1
		asOf := t.UTC()
		d.AsOf = &asOf
	}
	in, seq, err := s.cfg.Store.AssertFacts(*b.FlowID, digest, atSeq)
	if err != nil {
		return d, "", err
	}
	d.Assessment = domain.Assert(in)
	d.LedgerSeq = seq
	input, err := json.Marshal(map[string]any{"sha256Digest": digest, "flowId": *b.FlowID, "ledgerSeq": seq})
	if err != nil {
		return d, "", fmt.Errorf("assert: encode input: %w", err)
	}
	sum := sha256.Sum256(input)
	d.InputDigest = hex.EncodeToString(sum[:])
	return d, in.Flow.Org(), nil
}
