package projections

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/factstore/factstore/domain"
)

// Compliance-core buckets. Values of trails, artifacts and attestations
// are the resource as the API shows it now (materialised: status changes
// and evidence rewrite them); everything point-in-time is answered from
// the events themselves through the sequence-keyed indexes.
var (
	bucketTrails        = []byte("trails")         // trail id -> Trail JSON (current)
	bucketTrailNames    = []byte("trail_names")    // flowId/name -> trail id
	bucketFlowTrails    = []byte("flow_trails")    // flow id 0 seq -> trail id
	bucketFlowVersions  = []byte("flow_versions")  // flow id 0 seq -> nil (flow.created/updated/deleted)
	bucketArtifacts     = []byte("artifacts")      // artifact id -> Artifact JSON (current)
	bucketDigests       = []byte("digests")        // digest 0 seq -> artifact id
	bucketProvenance    = []byte("provenance")     // artifact id -> seq of its latest provenance event
	bucketAttestations  = []byte("attestations")   // attestation id -> Attestation JSON (current)
	bucketTrailEvidence = []byte("trail_evidence") // trail id 0 seq -> attestation id
	bucketAttEvidence   = []byte("att_evidence")   // attestation id 0 seq -> nil
	bucketEvidence      = []byte("evidence")       // sha256 hex -> seq of the first event naming it

	complianceBuckets = [][]byte{bucketTrails, bucketTrailNames, bucketFlowTrails, bucketFlowVersions, bucketArtifacts,
		bucketDigests, bucketProvenance, bucketAttestations, bucketTrailEvidence, bucketAttEvidence,
		bucketEvidence, bucketSearch, bucketSearchIDs}
)

// trailEvent is the decoded payload of a compliance event, prepared before
// the write transaction.
type trailEvent struct {
	trail       *domain.Trail
	updated     bool // trail.updated: the trail exists already
	status      *domain.TrailStatusChanged
	artifact    *domain.Artifact
	provenance  *domain.Provenance
	attestation *domain.Attestation
	evidence    *domain.EvidenceAttached
	search      *encodedDoc
}

// prepareCompliance decodes the payload of compliance events; ok is false
// for other events.
func prepareCompliance(eventType string, data []byte) (*trailEvent, bool, error) {
	te := new(trailEvent)
	var target any
	switch eventType {
	case domain.EventTrailStarted, domain.EventTrailUpdated:
		te.trail = new(domain.Trail)
		te.updated = eventType == domain.EventTrailUpdated
		target = te.trail
	case domain.EventTrailStatusChanged:
		te.status = new(domain.TrailStatusChanged)
		target = te.status
	case domain.EventArtifactReported:
		te.artifact = new(domain.Artifact)
		target = te.artifact
	case domain.EventProvenanceRecorded:
		te.provenance = new(domain.Provenance)
		target = te.provenance
	case domain.EventAttestationRecorded:
		te.attestation = new(domain.Attestation)
		target = te.attestation
	case domain.EventEvidenceAttached:
		te.evidence = new(domain.EvidenceAttached)
		target = te.evidence
	default:
		return nil, false, nil
	}
	err := json.Unmarshal(data, target)
	if err != nil {
		return nil, true, fmt.Errorf("projections: decode %s: %w", eventType, err)
	}
	if doc := searchDocOf(te); doc != nil {
		// Encoded here, in the parallel stage, not in the write transaction.
		te.search = doc.encode()
	}
	return te, true, nil
}

// writeCompliance applies a prepared compliance event at seq.
func writeCompliance(tx *bolt.Tx, seq []byte, te *trailEvent) error {
	if te.search != nil {
		if err := te.search.put(tx, seq); err != nil {
			return err
		}
	}
	switch {
	case te.trail != nil:
		t := te.trail
		if err := putJSON(tx.Bucket(bucketTrails), t.ID, t); err != nil {
			return err
		}
		if te.updated {
			return nil
		}
		if err := tx.Bucket(bucketTrailNames).Put([]byte(t.FlowID+"/"+t.Name), []byte(t.ID)); err != nil {
			return err
		}
		return tx.Bucket(bucketFlowTrails).Put(seqIndexKey(t.FlowID, seq), []byte(t.ID))
	case te.status != nil:
		var t domain.Trail
		if ok, err := getJSON(tx.Bucket(bucketTrails), te.status.TrailID, &t); err != nil || !ok {
			return err
		}
		t.Status, t.UpdatedAt = te.status.Status, te.status.At
		if err := putJSON(tx.Bucket(bucketTrails), t.ID, &t); err != nil {
			return err
		}
		return updateSearchStatus(tx, "trail", t.ID, t.Status)
	case te.artifact != nil:
		a := te.artifact
		if err := putJSON(tx.Bucket(bucketArtifacts), a.ID, a); err != nil {
			return err
		}
		return tx.Bucket(bucketDigests).Put(seqIndexKey(a.Sha256Digest, seq), digestEntry(a.ID, a.TrailID))
	case te.provenance != nil:
		p := te.provenance
		var a domain.Artifact
		if ok, err := getJSON(tx.Bucket(bucketArtifacts), p.ArtifactID, &a); err != nil || !ok {
			return err
		}
		a.ProvenanceStatus = p.ProvenanceStatus
		if err := putJSON(tx.Bucket(bucketArtifacts), a.ID, &a); err != nil {
			return err
		}
		return tx.Bucket(bucketProvenance).Put([]byte(p.ArtifactID), seq)
	case te.attestation != nil:
		a := te.attestation
		// The trail's list of attestations is its attestation facts
		// (in records), which lead with the attestation's id.
		return putJSON(tx.Bucket(bucketAttestations), a.ID, a)
	case te.evidence != nil:
		return writeEvidence(tx, seq, te.evidence)
	}
	return nil
}

func writeEvidence(tx *bolt.Tx, seq []byte, e *domain.EvidenceAttached) error {
	var a domain.Attestation
	if ok, err := getJSON(tx.Bucket(bucketAttestations), e.AttestationID, &a); err != nil || !ok {
		return err
	}
	a.EvidenceFileHash, a.EvidenceFileName, a.EvidenceFileSizeBytes = &e.SHA256Hash, &e.FileName, &e.FileSizeBytes
	if e.Status != nil {
		a.Status, a.Compliant = *e.Status, *e.Status == domain.AttestationPassed
		a.Details = e.Details
	}
	if err := putJSON(tx.Bucket(bucketAttestations), a.ID, &a); err != nil {
		return err
	}
	if e.Status != nil {
		if err := updateSearchStatus(tx, "attestation", a.ID, a.Status); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketTrailEvidence).Put(seqIndexKey(e.TrailID, seq), []byte(e.AttestationID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketAttEvidence).Put(seqIndexKey(e.AttestationID, seq), nil); err != nil {
		return err
	}
	if tx.Bucket(bucketEvidence).Get([]byte(e.SHA256Hash)) == nil {
		return tx.Bucket(bucketEvidence).Put([]byte(e.SHA256Hash), seq)
	}
	return nil
}

// digestEntry is the value of a digests index entry: the artifact and
// its trail, so that an assert finds the trails without reading artifacts.
func digestEntry(artifactID, trailID string) []byte { return []byte(artifactID + "\x00" + trailID) }

// splitDigestEntry returns the artifact and trail ids of a digests entry.
func splitDigestEntry(v []byte) (artifactID, trailID string) {
	a, t, _ := bytes.Cut(v, []byte{0})
	return string(a), string(t)
}

// seqIndexKey is prefix 0 seq, with seq already encoded.
func seqIndexKey(prefix string, seq []byte) []byte {
	k := make([]byte, 0, len(prefix)+1+len(seq))
	k = append(k, prefix...)
	k = append(k, 0)
	return append(k, seq...)
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

func getJSON(b *bolt.Bucket, key string, v any) (bool, error) {
	data := b.Get([]byte(key))
	if data == nil {
		return false, nil
	}
	return true, json.Unmarshal(data, v)
}

// searchDoc is one searchable resource: the API's search result plus the
// lower-cased text a query is matched against.
