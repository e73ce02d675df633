package projections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/ledger"
)

// prepared is an event with everything its read-model writes need worked
// out: the CPU part of applying (JSON decoding, deriving index keys), which
// runs in parallel before the write transaction.
type prepared struct {
	env       *ledger.Envelope
	raw       []byte
	seq       []byte
	auditType string
	trail     string
	factTrail string              // the trail whose fact record fact is
	fact      []byte              // the event's fact record (see facts.go), or nil
	flow      *flowKeys           // flow.created, flow.updated
	deleted   *domain.FlowDeleted // flow.deleted
	orgSlug   string              // organisation.*
	flowDoc   *encodedDoc         // flow.created, flow.updated
	te        *trailEvent         // trail aggregate events
	envEv     *envEvent           // environment and logical environment events
	kosliEv   *kosliEvent         // policies and attestation types
}

// prepare derives an event's writes. It must be deterministic: the same
// event always produces the same bytes.
func prepare(e *ledger.Envelope, raw []byte) (prepared, error) {
	p := prepared{env: e, raw: raw, seq: seqKey(e.Seq), auditType: domain.AuditEventType(e.Type, e.Data)}
	// AuditSubjects decodes the whole payload; skip it when the trail is
	// the aggregate's id (a trail's own events) or can only be empty (most
	// other events carry no trailId).
	switch {
	case e.Aggregate == "trail":
		p.trail = e.AggregateID
	case containsKeyFold(e.Data, "trailid"):
		p.trail, _, _ = domain.AuditSubjects(e.Aggregate, e.AggregateID, e.Data)
	}
	if te, ok, err := prepareCompliance(e.Type, e.Data); ok {
		p.te = te
		if err == nil {
			p.factTrail, p.fact = factOf(te)
		}
		return p, err
	}
	if ev, ok, err := prepareEnvironment(e.Type, e.Data); ok {
		p.envEv = ev
		return p, err
	}
	if ke, ok, err := prepareKosli(e.Type, e.Data); ok {
		p.kosliEv = ke
		return p, err
	}
	switch e.Type {
	case domain.EventFlowCreated, domain.EventFlowUpdated:
		f, err := decodeFlow(e.Data)
		if err != nil {
			return p, err
		}
		p.flow = &flowKeys{ID: f.ID, Name: f.Name, OrgSlug: f.OrgSlug}
		p.flowDoc = flowSearchDoc(&f).encode()
	case domain.EventFlowDeleted:
		p.deleted = new(domain.FlowDeleted)
		if err := json.Unmarshal(e.Data, p.deleted); err != nil {
			return p, err
		}
	case domain.EventOrganisationCreated, domain.EventOrganisationUpdated, domain.EventOrganisationDeleted:
		var o struct {
			Slug string `json:"slug"`
		}
		if err := json.Unmarshal(e.Data, &o); err != nil {
			return p, err
		}
		p.orgSlug = o.Slug
	default:
		// Every other branch decodes the payload; the checker relies on
		// it (ledger.Checker.DataChecked).
		if !json.Valid(e.Data) {
			var v any
			return p, json.Unmarshal(e.Data, &v) // the syntax error, for the halt reason
		}
	}
	return p, nil
}

// write applies a prepared event to every read model.
func (p *prepared) write(tx *bolt.Tx) error {
	e := p.env
	if err := tx.Bucket(bucketEvents).Put(p.seq, p.raw); err != nil {
		return err
	}
	if err := tx.Bucket(bucketEventIDs).Put([]byte(e.ID), p.seq); err != nil {
		return err
	}
	if err := p.putRecords(tx); err != nil {
		return err
	}
	if err := tx.Bucket(bucketAuditType).Put(indexKey(p.auditType, e.Seq), nil); err != nil {
		return err
	}
	if err := tx.Bucket(bucketAuditActor).Put(indexKey(e.Actor, e.Seq), nil); err != nil {
		return err
	}
	// A trail's own events are in records under its id already; audit_trail
	// holds the other events about a trail (Audit merges the two).
	if p.trail != "" && p.trail != e.AggregateID {
		if err := tx.Bucket(bucketAuditTrail).Put(indexKey(p.trail, e.Seq), nil); err != nil {
			return err
		}
	}
	switch {
	case p.te != nil:
		return writeCompliance(tx, p.seq, p.te)
	case p.envEv != nil:
		return writeEnvironment(tx, p.seq, e.AggregateID, p.envEv)
	case p.kosliEv != nil:
		return writeKosli(tx, p.seq, p.kosliEv)
	case p.flow != nil:
		if err := tx.Bucket(bucketFlowVersions).Put(seqIndexKey(p.flow.ID, p.seq), nil); err != nil {
			return err
		}
		if err := p.flowDoc.put(tx, p.seq); err != nil {
			return err
		}
		return putFlow(tx, p.seq, p.flow)
	case p.deleted != nil:
		if err := tx.Bucket(bucketFlowVersions).Put(seqIndexKey(p.deleted.ID, p.seq), nil); err != nil {
			return err
		}
		if err := deleteSearchDoc(tx, "flow", p.deleted.ID); err != nil {
			return err
		}
		return deleteFlow(tx, p.deleted)
	case e.Type == domain.EventOrganisationDeleted:
		return tx.Bucket(bucketOrgs).Delete([]byte(p.orgSlug))
	case p.orgSlug != "":
		return tx.Bucket(bucketOrgs).Put([]byte(p.orgSlug), p.seq)
	}
	return nil
}

// putRecords indexes the event under its aggregate, with its fact record as
// the value when it has one.
func (p *prepared) putRecords(tx *bolt.Tx) error {
	b, id, fact := tx.Bucket(bucketRecords), p.env.AggregateID, p.fact
	if fact != nil && p.factTrail != id {
		// Not expected (a trail's facts come from its own events), but
		// the fact must still be found under its trail.
		if err := b.Put(indexKey(p.factTrail, p.env.Seq), fact); err != nil {
			return err
		}
		fact = nil
	}
	if id == "" {
		return nil
	}
	return b.Put(indexKey(id, p.env.Seq), fact)
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

// putFlow points the flow's id at the event holding its current state. The
// flows bucket stores that event's sequence, not a second copy of the
// payload: its keys are random ids, and small values keep the pages a
// transaction rewrites few.
func putFlow(tx *bolt.Tx, seq []byte, f *flowKeys) error {
	flows, names := tx.Bucket(bucketFlows), tx.Bucket(bucketFlowNames)
	if err := dropFlowName(tx, flows.Get([]byte(f.ID))); err != nil {
		return err
	}
	if err := flows.Put([]byte(f.ID), seq); err != nil {
		return err
	}
	return names.Put(f.nameKey(), []byte(f.ID))
}

// dropFlowName removes the name index entry of the flow state stored at
// seq (nil: no such flow).
func dropFlowName(tx *bolt.Tx, seq []byte) error {
	if seq == nil {
		return nil
	}
	data, err := eventData(tx, seq)
	if err != nil {
		return err
	}
	var prev flowKeys
	if err := json.Unmarshal(data, &prev); err != nil {
		return err
	}
	return tx.Bucket(bucketFlowNames).Delete(prev.nameKey())
}

// eventData returns the payload of the event stored at seq.
func eventData(tx *bolt.Tx, seq []byte) (json.RawMessage, error) {
	raw := tx.Bucket(bucketEvents).Get(seq)
	if raw == nil {
		return nil, fmt.Errorf("projections: no event at %x", seq)
	}
	e, err := ledger.Decode(raw)
	if err != nil {
		return nil, err
	}
	return e.Data, nil
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

func deleteFlow(tx *bolt.Tx, d *domain.FlowDeleted) error {
	flows := tx.Bucket(bucketFlows)
	if err := dropFlowName(tx, flows.Get([]byte(d.ID))); err != nil {
		return err
	}
	return flows.Delete([]byte(d.ID))
}
