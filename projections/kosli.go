package projections

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/ledger"
)

// Policy and attestation type buckets.
var (
	bucketPolicies   = []byte("policies")     // org/name -> seq of the latest policy.saved
	bucketEnvPolicy  = []byte("env_policies") // env id -> JSON list of attached policy names
	bucketAttTypes   = []byte("att_types")    // org/name -> seq of the latest attestation-type.saved
	kosliBuckets     = [][]byte{bucketPolicies, bucketEnvPolicy, bucketAttTypes}
	errNoSuchPayload = fmt.Errorf("projections: event has no payload")
)

// kosliEvent is a decoded policy or attestation type event.
type kosliEvent struct {
	policy   *domain.Policy
	attached *domain.PoliciesAttached
	attType  *domain.AttestationType
}

func prepareKosli(eventType string, data []byte) (*kosliEvent, bool, error) {
	ke := new(kosliEvent)
	var target any
	switch eventType {
	case domain.EventPolicySaved:
		ke.policy = new(domain.Policy)
		target = ke.policy
	case domain.EventPoliciesAttached, domain.EventPoliciesDetached:
		ke.attached = new(domain.PoliciesAttached)
		target = ke.attached
	case domain.EventAttestationTypeSaved:
		ke.attType = new(domain.AttestationType)
		target = ke.attType
	default:
		return nil, false, nil
	}
	if err := json.Unmarshal(data, target); err != nil {
		return nil, true, fmt.Errorf("projections: decode %s: %w", eventType, err)
	}
	return ke, true, nil
}

func writeKosli(tx *bolt.Tx, seq []byte, ke *kosliEvent) error {
	switch {
	case ke.policy != nil:
		return tx.Bucket(bucketPolicies).Put([]byte(ke.policy.Org+"/"+ke.policy.Name), seq)
	case ke.attached != nil:
		return putJSON(tx.Bucket(bucketEnvPolicy), ke.attached.EnvironmentID, ke.attached.Policies)
	case ke.attType != nil:
		return tx.Bucket(bucketAttTypes).Put([]byte(ke.attType.Org+"/"+ke.attType.Name), seq)
	}
	return errNoSuchPayload
}

// Policy returns the latest version of an organisation's policy.
func (s *Store) Policy(org, name string) (*domain.Policy, error) {
	p := new(domain.Policy)
	err := s.db.View(func(tx *bolt.Tx) error {
		seq := tx.Bucket(bucketPolicies).Get([]byte(org + "/" + name))
		if seq == nil {
			return domain.NotFound("policy", name)
		}
		data, err := eventData(tx, seq)
		if err != nil {
			return err
		}
		return json.Unmarshal(data, p)
	})
	return p, err
}

// EnvironmentPolicies lists the names of the policies attached to an environment.
func (s *Store) EnvironmentPolicies(envID string) ([]string, error) {
	out := []string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		_, err := getJSON(tx.Bucket(bucketEnvPolicy), envID, &out)
		return err
	})
	return out, err
}

// AttestationType returns the latest version of a custom attestation type.
func (s *Store) AttestationType(org, name string) (*domain.AttestationType, error) {
	t := new(domain.AttestationType)
	err := s.db.View(func(tx *bolt.Tx) error {
		seq := tx.Bucket(bucketAttTypes).Get([]byte(org + "/" + name))
		if seq == nil {
			return domain.NotFound("attestation type", name)
		}
		data, err := eventData(tx, seq)
		if err != nil {
			return err
		}
		return json.Unmarshal(data, t)
	})
	return t, err
}

// FlowByName returns an organisation's flow by name.
func (s *Store) FlowByName(org, name string) (*domain.Flow, error) {
	var f *domain.Flow
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketFlowNames).Get([]byte(org + "/" + name))
		if id == nil {
			return domain.NotFound("flow", name)
		}
		seq := tx.Bucket(bucketFlows).Get(id)
		if seq == nil {
			return domain.NotFound("flow", name)
		}
		var err error
		f, err = flowAt(tx, seq)
		return err
	})
	return f, err
}

// EnvironmentByName returns an organisation's environment by name.
func (s *Store) EnvironmentByName(org, name string) (*domain.Environment, error) {
	e := new(domain.Environment)
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketEnvNames).Get([]byte(org + "/" + name))
		if id == nil {
			return domain.NotFound("environment", name)
		}
		return getOr404(tx.Bucket(bucketEnvs), "environment", string(id), e)
	})
	return e, err
}

// TrailEvents returns every event of a trail, in order.
func (s *Store) TrailEvents(trailID string) ([]*ledger.Envelope, error) {
	var out []*ledger.Envelope
	err := s.db.View(func(tx *bolt.Tx) error {
		return forTrailEvents(tx, trailID, 0, func(e *ledger.Envelope) error {
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// TrailFacts returns what compliance is judged on for a trail, now.
func (s *Store) TrailFacts(trailID string) (*domain.TrailFacts, error) {
	var f *domain.TrailFacts
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		f, err = trailFactsAt(tx, trailID, 1<<63)
		return err
	})
	return f, err
}

// DigestTrail is a trail that reported a digest, with its flow and facts.
type DigestTrail struct {
	Flow  *domain.Flow
	Facts *domain.TrailFacts
}

// DigestTrails returns, now, every trail that reported digest (oldest
// first) whose flow still exists; org, if not empty, keeps the trails of
// that organisation's flows.
func (s *Store) DigestTrails(digest, org string) ([]DigestTrail, error) {
	var out []DigestTrail
	err := s.db.View(func(tx *bolt.Tx) error {
		seen := map[string]bool{}
		flows := map[string]*domain.Flow{}
		return forPrefix(tx.Bucket(bucketDigests), digest, func(_ uint64, v []byte) error {
			_, trailID := splitDigestEntry(v)
			if seen[trailID] {
				return nil
			}
			seen[trailID] = true
			facts, err := trailFactsAt(tx, trailID, 1<<63)
			if err != nil || facts.Trail == nil {
				return err
			}
			f, ok := flows[facts.Trail.FlowID]
			if !ok {
				seq := tx.Bucket(bucketFlows).Get([]byte(facts.Trail.FlowID))
				if seq != nil {
					if f, err = flowAt(tx, seq); err != nil {
						return err
					}
				}
				flows[facts.Trail.FlowID] = f
			}
			if f == nil || (org != "" && f.Org() != org) {
				return nil
			}
			var t domain.Trail
			if _, err := getJSON(tx.Bucket(bucketTrails), trailID, &t); err != nil {
				return err
			}
			facts.Trail = &t
			out = append(out, DigestTrail{Flow: f, Facts: facts})
			return nil
		})
	})
	return out, err
}

// ArtifactsOnTrail lists a trail's artifacts with a digest.
func (s *Store) ArtifactsOnTrail(trailID, digest string) ([]domain.Artifact, error) {
	all, err := s.TrailArtifacts(trailID)
	if err != nil {
		return nil, err
	}
	var out []domain.Artifact
	for _, a := range all {
		if a.Sha256Digest == digest {
			out = append(out, a)
		}
	}
	return out, nil
}
