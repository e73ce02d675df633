package projections

import (
	"bytes"
	"encoding/json"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/ledger"
)

// applyEvent writes one verified event into every read model. It must be
// deterministic: the same event always produces the same bytes.
func applyEvent(tx *bolt.Tx, e *ledger.Envelope, raw []byte) error {
	seq := seqKey(e.Seq)
	if err := tx.Bucket(bucketEvents).Put(seq, raw); err != nil {
		return err
	}
	if err := tx.Bucket(bucketEventIDs).Put([]byte(e.ID), seq); err != nil {
		return err
	}
	if e.AggregateID != "" {
		if err := tx.Bucket(bucketRecords).Put(indexKey(e.AggregateID, e.Seq), nil); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketAuditType).Put(indexKey(domain.AuditEventType(e.Type, e.Data), e.Seq), nil); err != nil {
		return err
	}
	if err := tx.Bucket(bucketAuditActor).Put(indexKey(e.Actor, e.Seq), nil); err != nil {
		return err
	}
	// AuditSubjects decodes the whole payload; skip it when the trail can
	// only be empty (most events carry no trailId).
	if e.Aggregate == "trail" || containsKeyFold(e.Data, "trailid") {
		if trail, _, _ := domain.AuditSubjects(e.Aggregate, e.AggregateID, e.Data); trail != "" {
			if err := tx.Bucket(bucketAuditTrail).Put(indexKey(trail, e.Seq), nil); err != nil {
				return err
			}
		}
	}
	switch e.Type {
	case domain.EventFlowCreated, domain.EventFlowUpdated:
		return putFlow(tx, e.Data)
	case domain.EventFlowDeleted:
		return deleteFlow(tx, e.Data)
	}
	return nil
}

func flowNameKey(f *domain.Flow) []byte { return []byte(f.Org() + "/" + f.Name) }

// flowKeys are the fields of a flow payload the flow buckets are keyed by;
// decoding only them skips the description, lists, tags and template.
type flowKeys struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	OrgSlug *string `json:"orgSlug"`
}

func (k *flowKeys) nameKey() []byte {
	return flowNameKey(&domain.Flow{Name: k.Name, OrgSlug: k.OrgSlug})
}

func putFlow(tx *bolt.Tx, data json.RawMessage) error {
	var f flowKeys
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	flows, names := tx.Bucket(bucketFlows), tx.Bucket(bucketFlowNames)
	if old := flows.Get([]byte(f.ID)); old != nil {
		var prev flowKeys
		if err := json.Unmarshal(old, &prev); err == nil {
			if err := names.Delete(prev.nameKey()); err != nil {
				return err
			}
		}
	}
	if err := flows.Put([]byte(f.ID), data); err != nil {
		return err
	}
	return names.Put(f.nameKey(), []byte(f.ID))
}

// containsKeyFold reports whether data holds the string "key" (ASCII
// case-insensitively, as encoding/json matches object keys). Payloads are
// canonical JSON, which never escapes letters, so a key cannot hide behind
// \u escapes.
func containsKeyFold(data []byte, key string) bool {
	n := len(key) + 2
	for i := bytes.IndexByte(data, '"'); i >= 0 && i+n <= len(data); {
		if data[i+n-1] == '"' && strings.EqualFold(string(data[i+1:i+n-1]), key) {
			return true
		}
		j := bytes.IndexByte(data[i+1:], '"')
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return false
}

func deleteFlow(tx *bolt.Tx, data json.RawMessage) error {
	var d domain.FlowDeleted
	if err := json.Unmarshal(data, &d); err != nil {
		return err
	}
	flows := tx.Bucket(bucketFlows)
	if old := flows.Get([]byte(d.ID)); old != nil {
		var prev domain.Flow
		if err := json.Unmarshal(old, &prev); err == nil {
			if err := tx.Bucket(bucketFlowNames).Delete(flowNameKey(&prev)); err != nil {
				return err
			}
		}
	}
	return flows.Delete([]byte(d.ID))
}
