package projections

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/ledger"
)

// Trail returns the trail with id as it is now.
func (s *Store) Trail(id string) (*domain.Trail, error) {
	t := new(domain.Trail)
	err := s.db.View(func(tx *bolt.Tx) error { return getOr404(tx.Bucket(bucketTrails), "trail", id, t) })
	return t, err
}

// TrailByName returns the trail of a flow by its name.
func (s *Store) TrailByName(flowID, name string) (*domain.Trail, error) {
	t := new(domain.Trail)
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketTrailNames).Get([]byte(flowID + "/" + name))
		if id == nil {
			return domain.NotFound("trail", name)
		}
		return getOr404(tx.Bucket(bucketTrails), "trail", string(id), t)
	})
	return t, err
}

func getOr404(b *bolt.Bucket, kind, id string, v any) error {
	ok, err := getJSON(b, id, v)
	if err != nil {
		return fmt.Errorf("projections: %s %s: %w", kind, id, err)
	}
	if !ok {
		return domain.NotFound(kind, id)
	}
	return nil
}

// Trails lists trails oldest first; flowID, if not empty, narrows them to
// one flow (404 if it does not exist).
func (s *Store) Trails(flowID string) ([]domain.Trail, error) {
	out := []domain.Trail{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if flowID == "" {
			return tx.Bucket(bucketFlowTrails).ForEach(func(_, id []byte) error {
				return appendJSON(tx.Bucket(bucketTrails), string(id), &out)
			})
		}
		if tx.Bucket(bucketFlows).Get([]byte(flowID)) == nil {
			return domain.NotFound("flow", flowID)
		}
		return forPrefix(tx.Bucket(bucketFlowTrails), flowID, func(_ uint64, id []byte) error {
			return appendJSON(tx.Bucket(bucketTrails), string(id), &out)
		})
	})
	return out, err
}

// FlowTrails pages through a flow's trails, oldest first.
func (s *Store) FlowTrails(flowID string, page, size int) ([]domain.Trail, int, error) {
	out := []domain.Trail{}
	total := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketFlows).Get([]byte(flowID)) == nil {
			return domain.NotFound("flow", flowID)
		}
		skip := page * size
		return forPrefix(tx.Bucket(bucketFlowTrails), flowID, func(_ uint64, id []byte) error {
			total++
			if total <= skip || len(out) >= size {
				return nil
			}
			return appendJSON(tx.Bucket(bucketTrails), string(id), &out)
		})
	})
	return out, total, err
}

func appendJSON[T any](b *bolt.Bucket, id string, out *[]T) error {
	var v T
	ok, err := getJSON(b, id, &v)
	if err != nil || !ok {
		return err
	}
	*out = append(*out, v)
	return nil
}

// forPrefix calls f for every "prefix 0 seq" key of b, in sequence order.
func forPrefix(b *bolt.Bucket, prefix string, f func(seq uint64, v []byte) error) error {
	p := append([]byte(prefix), 0)
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if len(k) != len(p)+8 {
			continue
		}
		if err := f(binary.BigEndian.Uint64(k[len(p):]), v); err != nil {
			return err
		}
	}
	return nil
}

// TrailArtifacts lists the artifacts reported on a trail, in order.
func (s *Store) TrailArtifacts(trailID string) ([]domain.Artifact, error) {
	out := []domain.Artifact{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketTrails).Get([]byte(trailID)) == nil {
			return domain.NotFound("trail", trailID)
		}
		return forTrailEvents(tx, trailID, 0, func(e *ledger.Envelope) error {
			if e.Type != domain.EventArtifactReported {
				return nil
			}
			var a struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(e.Data, &a); err != nil {
				return err
			}
			return appendJSON(tx.Bucket(bucketArtifacts), a.ID, &out)
		})
	})
	return out, err
}

// forTrailEvents calls f for every event of a trail up to atSeq (0: all).
func forTrailEvents(tx *bolt.Tx, trailID string, atSeq uint64, f func(*ledger.Envelope) error) error {
	events := tx.Bucket(bucketEvents)
	return forPrefix(tx.Bucket(bucketRecords), trailID, func(seq uint64, _ []byte) error {
		if atSeq > 0 && seq > atSeq {
			return nil
		}
		e, err := ledger.Decode(events.Get(seqKey(seq)))
		if err != nil {
			return err
		}
		return f(e)
	})
}

// Artifact returns the artifact with id as it is now.
func (s *Store) Artifact(id string) (*domain.Artifact, error) {
	a := new(domain.Artifact)
	err := s.db.View(func(tx *bolt.Tx) error { return getOr404(tx.Bucket(bucketArtifacts), "artifact", id, a) })
	return a, err
}

// ArtifactsByDigest lists every artifact reported with digest, in order.
func (s *Store) ArtifactsByDigest(digest string) ([]domain.Artifact, error) {
	out := []domain.Artifact{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return forPrefix(tx.Bucket(bucketDigests), digest, func(_ uint64, v []byte) error {
			id, _ := splitDigestEntry(v)
			return appendJSON(tx.Bucket(bucketArtifacts), id, &out)
		})
	})
	return out, err
}

// Provenance returns the latest provenance recorded for an artifact.
func (s *Store) Provenance(artifactID string) (*domain.Provenance, error) {
	var p *domain.Provenance
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		p, err = provenanceOf(tx, artifactID)
		return err
	})
	return p, err
}

func provenanceOf(tx *bolt.Tx, artifactID string) (*domain.Provenance, error) {
	seq := tx.Bucket(bucketProvenance).Get([]byte(artifactID))
	if seq == nil {
		return nil, domain.NotFound("provenance of artifact", artifactID)
	}
	data, err := eventData(tx, seq)
	if err != nil {
		return nil, err
	}
	p := new(domain.Provenance)
	return p, json.Unmarshal(data, p)
}

// ProvenanceByDigest lists the latest provenance of every artifact with digest.
func (s *Store) ProvenanceByDigest(digest string) ([]domain.Provenance, error) {
	out := []domain.Provenance{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return forPrefix(tx.Bucket(bucketDigests), digest, func(_ uint64, v []byte) error {
			id, _ := splitDigestEntry(v)
			p, err := provenanceOf(tx, id)
			if err == nil {
				out = append(out, *p)
			}
			if err != nil && !isNotFound(err) {
				return err
			}
			return nil
		})
	})
	return out, err
}

func isNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }

// Attestation returns the attestation with id as it is now.
func (s *Store) Attestation(id string) (*domain.Attestation, error) {
	a := new(domain.Attestation)
	err := s.db.View(func(tx *bolt.Tx) error { return getOr404(tx.Bucket(bucketAttestations), "attestation", id, a) })
	return a, err
}

// TrailAttestations pages through a trail's attestations, oldest first
// (size <= 0: all).
func (s *Store) TrailAttestations(trailID string, page, size int) ([]domain.Attestation, int, error) {
	out := []domain.Attestation{}
	total := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketTrails).Get([]byte(trailID)) == nil {
			return domain.NotFound("trail", trailID)
		}
		skip := page * size
		var fields []string
		return forPrefix(tx.Bucket(bucketRecords), trailID, func(_ uint64, rec []byte) error {
			if len(rec) == 0 || rec[0] != factAttestation {
				return nil
			}
			total++
			if size > 0 && (total <= skip || len(out) >= size) {
				return nil
			}
			var err error
			if _, fields, err = decodeFact(rec, fields); err != nil {
				return err
			}
			if len(fields) == 0 {
				return errBadFact // an attestation fact leads with the attestation's id
			}
			return appendJSON(tx.Bucket(bucketAttestations), fields[0], &out)
		})
	})
	return out, total, err
}

// evidenceAt decodes the evidence recorded by the event at seq.
func evidenceAt(tx *bolt.Tx, seq uint64) (domain.Evidence, error) {
	data, err := eventData(tx, seqKey(seq))
	if err != nil {
		return domain.Evidence{}, err
	}
	var e domain.EvidenceAttached
	return e.Evidence, json.Unmarshal(data, &e)
}

// TrailEvidence lists the evidence files attached to a trail's attestations.
func (s *Store) TrailEvidence(trailID string) ([]domain.Evidence, error) {
	return s.evidenceList(bucketTrails, "trail", bucketTrailEvidence, trailID)
}

// AttestationEvidence lists the evidence files attached to an attestation.
func (s *Store) AttestationEvidence(attestationID string) ([]domain.Evidence, error) {
	return s.evidenceList(bucketAttestations, "attestation", bucketAttEvidence, attestationID)
}

func (s *Store) evidenceList(owners []byte, kind string, index []byte, id string) ([]domain.Evidence, error) {
	out := []domain.Evidence{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(owners).Get([]byte(id)) == nil {
			return domain.NotFound(kind, id)
		}
		return forPrefix(tx.Bucket(index), id, func(seq uint64, _ []byte) error {
			e, err := evidenceAt(tx, seq)
			out = append(out, e)
			return err
		})
	})
	return out, err
}

// EvidenceByHash returns the first recorded description of the evidence
// file with hex SHA-256 hash.
func (s *Store) EvidenceByHash(hash string) (*domain.Evidence, error) {
	var e domain.Evidence
	err := s.db.View(func(tx *bolt.Tx) error {
		seq := tx.Bucket(bucketEvidence).Get([]byte(hash))
		if seq == nil {
			return domain.NotFound("evidence", hash)
		}
		var err error
		e, err = evidenceAt(tx, binary.BigEndian.Uint64(seq))
		return err
	})
	return &e, err
}

// AssertFacts gathers what an assertion of digest against flowID looks at,
// as the ledger stood at atSeq (0: now), and the sequence that is. The
// flow must have existed (and not been deleted) at that point.
func (s *Store) AssertFacts(flowID, digest string, atSeq uint64) (domain.AssertInput, uint64, error) {
	var in domain.AssertInput
	err := s.db.View(func(tx *bolt.Tx) error {
		var applied uint64
		if v := tx.Bucket(bucketMeta).Get(keyApplied); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		if atSeq == 0 || atSeq > applied {
			atSeq = applied
		}
		flow, err := s.flowAsOf(tx, flowID, atSeq)
		if err != nil {
			return err
		}
		in = domain.AssertInput{Flow: flow, Digest: digest}
		var trailIDs []string
		err = forPrefix(tx.Bucket(bucketDigests), digest, func(seq uint64, v []byte) error {
			if seq > atSeq {
				return nil
			}
			if _, trailID := splitDigestEntry(v); !slices.Contains(trailIDs, trailID) {
				trailIDs = append(trailIDs, trailID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range trailIDs {
			facts, err := trailFactsAt(tx, id, atSeq)
			if err != nil {
				return err
			}
			if facts.Trail == nil {
				continue
			}
			if facts.Trail.FlowID == flowID {
				in.Trails = append(in.Trails, facts)
			} else {
				in.Elsewhere = append(in.Elsewhere, facts)
			}
		}
		return nil
	})
	return in, atSeq, err
}

// flowAsOf returns the flow as it stood at atSeq. The caller must not
// modify it (it may be shared through the store's flow cache).
func (s *Store) flowAsOf(tx *bolt.Tx, flowID string, atSeq uint64) (*domain.Flow, error) {
	c := tx.Bucket(bucketFlowVersions).Cursor()
	p := append([]byte(flowID), 0)
	k, _ := c.Seek(seqIndexKey(flowID, seqKey(atSeq+1)))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, p) || len(k) != len(p)+8 {
		return nil, domain.NotFound("flow", flowID)
	}
	seq := binary.BigEndian.Uint64(k[len(p):])
	if f := s.flows.get(seq); f != nil {
		return f, nil
	}
	e, err := ledger.Decode(tx.Bucket(bucketEvents).Get(k[len(p):]))
	if err != nil {
		return nil, err
	}
	if e.Type == domain.EventFlowDeleted {
		return nil, domain.NotFound("flow", flowID)
	}
	f := new(domain.Flow)
	if err := json.Unmarshal(e.Data, f); err != nil {
		return nil, err
	}
	s.flows.put(seq, f)
	return f, nil
}

// trailFactsAt folds a trail's fact records up to atSeq into the facts
// compliance is judged on.
func trailFactsAt(tx *bolt.Tx, trailID string, atSeq uint64) (*domain.TrailFacts, error) {
	facts := new(domain.TrailFacts)
	// Size the attestations once: folding by append regrew the slice
	// several times per assert, the largest allocation of the read.
	n := 0
	_ = forPrefix(tx.Bucket(bucketRecords), trailID, func(seq uint64, rec []byte) error {
		if seq <= atSeq && len(rec) > 0 && rec[0] == factAttestation {
			n++
		}
		return nil
	})
	facts.Attestations = make([]domain.AttestationFact, 0, n)
	var scratch []string
	err := forPrefix(tx.Bucket(bucketRecords), trailID, func(seq uint64, rec []byte) error {
		if seq > atSeq {
			return nil
		}
		var err error
		if len(rec) == 0 {
			return nil // an event that changes no fact
		}
		scratch, err = applyFact(facts, trailID, rec, scratch)
		return err
	})
	if err != nil || facts.Trail == nil || facts.Trail.TemplateYAML == nil {
		return facts, err
	}
	// The trail has its own template (it never changes): load its text.
	var t domain.Trail
	if _, err := getJSON(tx.Bucket(bucketTrails), trailID, &t); err != nil {
		return nil, err
	}
	facts.Trail.TemplateYAML = t.TemplateYAML
	return facts, nil
}
