package projections

import (
	"encoding/binary"
	"errors"
	"strings"

	"github.com/factstore/factstore/domain"
)

// A trail's fact records are the values of its entries in the records
// index (trail id 0 seq -> fact record, empty for events that change no
// fact): just what compliance is judged on, so an assert reads a handful of
// short records instead of decoding every envelope of the trail, and a
// point-in-time assert simply stops at its sequence. Keeping them there
// rather than in an index of their own spares every trail event a second
// write into a page picked by its trail id, the costliest part of applying
// an attestation.

// Fact record kinds.
const (
	factTrail       = 'T' // flowId, name, hasTemplate ("1" or "")
	factArtifact    = 'A' // id, name, digest
	factAttestation = 'S' // id, type, name, status, fingerprint, targets (0-separated)
	factVerdict     = 'E' // attestation id, status
)

var errBadFact = errors.New("projections: malformed fact record")

// encodeFact is a kind byte and length-prefixed strings.
func encodeFact(kind byte, fields ...string) []byte {
	n := 1
	for _, f := range fields {
		n += binary.MaxVarintLen32 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, kind)
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// decodeFact splits a record into its kind and fields (copied out of b).
func decodeFact(b []byte, out []string) (byte, []string, error) {
	if len(b) == 0 {
		return 0, nil, errBadFact
	}
	kind := b[0]
	// One string for the whole record; the fields are slices of it, so a
	// record costs one allocation, not one per field.
	rest := string(b[1:])
	out = out[:0]
	for len(rest) > 0 {
		l, k := binary.Uvarint([]byte(rest[:min(len(rest), binary.MaxVarintLen64)]))
		if k <= 0 || uint64(len(rest)-k) < l {
			return 0, nil, errBadFact
		}
		out = append(out, rest[k:k+int(l)])
		rest = rest[k+int(l):]
	}
	return kind, out, nil
}

// factOf is the fact record of a compliance event, or nil.
func factOf(te *trailEvent) (trailID string, rec []byte) {
	switch {
	case te.trail != nil:
		t := te.trail
		tmpl := ""
		if t.TemplateYAML != nil && *t.TemplateYAML != "" {
			tmpl = "1"
		}
		return t.ID, encodeFact(factTrail, t.FlowID, t.Name, tmpl)
	case te.artifact != nil:
		a := te.artifact
		f := a.Fact()
		return a.TrailID, encodeFact(factArtifact, f.ID, f.Name, f.Digest)
	case te.attestation != nil:
		f := domain.AttestationFactOf(te.attestation)
		return te.attestation.TrailID, encodeFact(factAttestation, f.ID, f.Type, f.Name, f.Status, f.Fingerprint, strings.Join(f.Targets, "\x00"))
	case te.evidence != nil && te.evidence.Status != nil:
		return te.evidence.TrailID, encodeFact(factVerdict, te.evidence.AttestationID, *te.evidence.Status)
	}
	return "", nil
}

// factFields is how many fields a fact record of kind has (0: no such kind).
func factFields(kind byte) int {
	switch kind {
	case factTrail, factArtifact:
		return 3
	case factAttestation:
		return 6
	case factVerdict:
		return 2
	}
	return 0
}

// applyFact folds one fact record into facts.
func applyFact(facts *domain.TrailFacts, trailID string, rec []byte, scratch []string) ([]string, error) {
	kind, f, err := decodeFact(rec, scratch)
	if err != nil {
		return f, err
	}
	if want := factFields(kind); want == 0 || len(f) != want {
		return f, errBadFact
	}
	switch kind {
	case factTrail:
		facts.Trail = &domain.Trail{ID: trailID, FlowID: f[0], Name: f[1]}
		if f[2] != "" {
			// Marks that the trail has its own template; the caller loads it.
			empty := ""
			facts.Trail.TemplateYAML = &empty
		}
	case factArtifact:
		facts.Artifacts = append(facts.Artifacts, domain.ArtifactFact{ID: f[0], Name: f[1], Digest: f[2]})
	case factAttestation:
		a := domain.AttestationFact{ID: f[0], Type: f[1], Name: f[2], Status: f[3], Fingerprint: f[4]}
		if f[5] != "" {
			a.Targets = strings.Split(f[5], "\x00")
		}
		facts.Attestations = append(facts.Attestations, a)
	case factVerdict:
		for i := range facts.Attestations {
			if facts.Attestations[i].ID == f[0] {
				facts.Attestations[i].Status = f[1]
			}
		}
	}
	return f, nil
}
