package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/ledger"
)

// ledgerEntry is one event as the ledger API shows it.
type ledgerEntry struct {
	EntryID      string            `json:"entryId"`
	Seq          uint64            `json:"seq"`
	RecordID     string            `json:"recordId"`
	EventType    string            `json:"eventType"`
	ContentHash  string            `json:"contentHash"`
	PreviousHash string            `json:"previousHash"`
	Hash         string            `json:"hash"`
	Timestamp    string            `json:"timestamp"`
	KeyID        string            `json:"keyId"`
	Signature    string            `json:"signature"`
	Metadata     map[string]string `json:"metadata"`
}

func toLedgerEntry(e *ledger.Envelope) ledgerEntry {
	sum := sha256.Sum256(e.Data)
	return ledgerEntry{
		EntryID: e.ID, Seq: e.Seq, RecordID: e.AggregateID, EventType: e.Type, ContentHash: hex.EncodeToString(sum[:]),
		PreviousHash: e.Prev, Hash: e.Hash, Timestamp: e.Time, KeyID: e.KeyID, Signature: e.Sig,
		Metadata: map[string]string{"aggregate": e.Aggregate, "org": e.Org, "actor": e.Actor},
	}
}

// verification is the outcome of the last verify-chain run.
type verification struct {
	At       time.Time `json:"at"`
	Valid    bool      `json:"valid"`
	FromSeq  uint64    `json:"fromSeq"`
	ToSeq    uint64    `json:"toSeq"`
	Checked  uint64    `json:"entriesChecked"`
	FirstBad uint64    `json:"firstBadSeq,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

func (s *Server) ledgerStatus(w http.ResponseWriter, r *http.Request) {
	head, err := s.cfg.Reader.Head(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	chainValid, msg := true, "ledger intact"
	if h := s.cfg.Store.Halted(); h != nil {
		chainValid, msg = false, h.Error()
	} else if b := s.cfg.Writer.Broken(); b != nil {
		chainValid, msg = false, b.Error()
	}
	s.verifyMu.Lock()
	last := s.lastVerify
	s.verifyMu.Unlock()
	if last != nil && !last.Valid {
		chainValid, msg = false, fmt.Sprintf("verification failed at sequence %d: %s", last.FirstBad, last.Reason)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"enabled": true, "type": "jetstream", "headSequence": head.Seq, "headHash": head.Hash,
		"totalEntries": head.Seq, "appliedSequence": s.cfg.Store.Applied(), "chainValid": chainValid,
		"healthy": chainValid, "lastVerification": last, "message": msg,
	})
}

func (s *Server) publicKeys(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"keys": s.cfg.Keys.Keys()})
}

func (s *Server) ledgerEntries(w http.ResponseWriter, r *http.Request) {
	page, err := intParam(r, "page", 0, 0, 1<<30)
	if err != nil {
		writeError(w, r, err)
		return
	}
	size, err := intParam(r, "size", 20, 1, 500)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.cfg.Store.Entries(page, size)
	if err != nil {
		writeError(w, r, err)
		return
	}
	entries := make([]ledgerEntry, 0, len(p.Events))
	for _, e := range p.Events {
		entries = append(entries, toLedgerEntry(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"entries": entries, "page": page, "size": size, "totalElements": p.Total, "totalPages": totalPages(p.Total, size),
	})
}

func (s *Server) ledgerRecordEntries(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["recordId"]
	events, err := s.cfg.Store.RecordEvents(id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(events) == 0 {
		writeError(w, r, domain.NotFound("ledger record", id))
		return
	}
	entries := make([]ledgerEntry, 0, len(events))
	for _, e := range events {
		entries = append(entries, toLedgerEntry(e))
	}
	writeJSON(w, http.StatusOK, entries)
}

// verifyRecord re-verifies every event about one record, as stored in the
// stream: its hash from the canonical bytes, its signature, and its link to
// the stored event before it.
func (s *Server) verifyRecord(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["recordId"]
	events, err := s.cfg.Store.RecordEvents(id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(events) == 0 {
		writeError(w, r, domain.NotFound("ledger record", id))
		return
	}
	verified, msg := true, fmt.Sprintf("%d entries verified: hashes, signatures and links hold", len(events))
	var firstBad uint64
	for _, e := range events {
		rep, err := s.cfg.Reader.Verify(r.Context(), s.cfg.Keys, e.Seq, e.Seq, nil)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if !rep.Valid {
			verified, msg, firstBad = false, rep.Broken.Error(), rep.Broken.Seq
			break
		}
	}
	last := events[len(events)-1]
	writeJSON(w, http.StatusOK, map[string]any{
		"recordId": id, "verified": verified, "entriesChecked": len(events), "contentHash": toLedgerEntry(last).ContentHash,
		"hash": last.Hash, "chainPosition": last.Seq, "previousHash": last.Prev, "ledgerTimestamp": last.Time,
		"verifiedAt": time.Now().UTC().Format(time.RFC3339Nano), "message": msg, "firstBadSeq": firstBad,
	})
}

// verifyChainBody selects a range by time (from, to) or by sequence.
type verifyChainBody struct {
	From    string `json:"from"`
	To      string `json:"to"`
	FromSeq uint64 `json:"fromSeq"`
	ToSeq   uint64 `json:"toSeq"`
}

func (s *Server) verifyChain(w http.ResponseWriter, r *http.Request) {
	var b verifyChainBody
	if err := decodeOptionalJSON(r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	from, to, err := s.verifyRange(r, b)
	if err != nil {
		writeError(w, r, err)
		return
	}
	head, err := s.cfg.Reader.LastSeq(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if to == 0 || to > head {
		to = head
	}
	started := time.Now()
	var rep ledger.Report
	if from <= to && head > 0 {
		if rep, err = s.cfg.Reader.Verify(r.Context(), s.cfg.Keys, from, to, nil); err != nil {
			writeError(w, r, err)
			return
		}
	} else {
		rep.Valid = true
	}
	v := &verification{At: time.Now().UTC(), Valid: rep.Valid, FromSeq: from, ToSeq: to, Checked: rep.Checked}
	body := map[string]any{
		"valid": rep.Valid, "entriesChecked": rep.Checked, "fromSeq": from, "toSeq": to,
		"firstEntryTimestamp": nilIfEmpty(rep.FirstTime), "lastEntryTimestamp": nilIfEmpty(rep.LastTime),
		"headHash": rep.HeadHash, "brokenAt": nil, "firstBadSeq": nil, "reason": nil,
		"durationMs": time.Since(started).Milliseconds(), "verifiedAt": v.At.Format(time.RFC3339Nano),
		"message": fmt.Sprintf("%d entries verified: hashes, links, positions and signatures hold", rep.Checked),
	}
	if !rep.Valid {
		v.FirstBad, v.Reason = rep.Broken.Seq, rep.Broken.Reason
		body["brokenAt"], body["firstBadSeq"], body["reason"] = nilIfEmpty(rep.Broken.ID), rep.Broken.Seq, rep.Broken.Reason
		body["message"] = rep.Broken.Error()
	}
	s.recordVerification(v)
	writeJSON(w, http.StatusOK, body)
}

// recordVerification remembers the latest verification for the status page.
func (s *Server) recordVerification(v *verification) {
	s.verifyMu.Lock()
	s.lastVerify = v
	s.verifyMu.Unlock()
}

// RecordStartupVerification reports a full-chain verification run outside
// the API (the one serve starts in the background) on the status page.
func (s *Server) RecordStartupVerification(rep ledger.Report, at time.Time) {
	v := &verification{At: at.UTC(), Valid: rep.Valid, FromSeq: 1, ToSeq: rep.LastSeq, Checked: rep.Checked}
	if rep.Broken != nil {
		v.FirstBad, v.Reason = rep.Broken.Seq, rep.Broken.Reason
	}
	s.recordVerification(v)
}

// verifyRange turns a body into a sequence range (0 = open end).
func (s *Server) verifyRange(r *http.Request, b verifyChainBody) (uint64, uint64, error) {
	if (b.From != "" || b.To != "") && (b.FromSeq != 0 || b.ToSeq != 0) {
		return 0, 0, fmt.Errorf("%w: give a time range (from, to) or a sequence range (fromSeq, toSeq), not both", errBadParam)
	}
	from, to := b.FromSeq, b.ToSeq
	if q, err := uintParam(r, "fromSeq"); err != nil {
		return 0, 0, err
	} else if q != 0 {
		from = q
	}
	if q, err := uintParam(r, "toSeq"); err != nil {
		return 0, 0, err
	} else if q != 0 {
		to = q
	}
	if b.From != "" {
		t, err := parseTime("from", b.From)
		if err != nil {
			return 0, 0, err
		}
		if from, err = s.cfg.Store.SeqAt(t); err != nil {
			return 0, 0, err
		}
	}
	if b.To != "" {
		t, err := parseTime("to", b.To)
		if err != nil {
			return 0, 0, err
		}
		next, err := s.cfg.Store.SeqAt(t.Add(time.Nanosecond))
		if err != nil {
			return 0, 0, err
		}
		if next <= 1 {
			return 1, 0, errEmptyRange
		}
		to = next - 1
	}
	if from == 0 {
		from = 1
	}
	if to != 0 && to < from {
		return 0, 0, errEmptyRange
	}
	return from, to, nil
}

var errEmptyRange = fmt.Errorf("%w: the range holds no events", errBadParam)
