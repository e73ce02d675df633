package projections

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/factstore/factstore/domain"
)

// Environment buckets.
var (
	bucketEnvs         = []byte("envs")          // env id -> Environment JSON (current)
	bucketEnvNames     = []byte("env_names")     // org/name -> env id
	bucketEnvSnaps     = []byte("env_snaps")     // env id 0 index -> seq, recordedAt (unix nanos)
	bucketSnapshotIDs  = []byte("snapshot_ids")  // snapshot id -> env id 0 index
	bucketEnvBaselines = []byte("env_baselines") // env id -> seq of the active baseline's event
	bucketEnvDrift     = []byte("env_drift")     // env id 0 seq -> nil (drift checks)
	bucketAllowlist    = []byte("allowlist")     // entry id -> AllowlistEntry JSON (current)
	bucketEnvAllow     = []byte("env_allow")     // env id 0 seq -> entry id
	bucketLogical      = []byte("logical")       // logical env id -> LogicalEnvironment JSON

	environmentBuckets = [][]byte{bucketEnvs, bucketEnvNames, bucketEnvSnaps, bucketSnapshotIDs, bucketEnvBaselines,
		bucketEnvDrift, bucketAllowlist, bucketEnvAllow, bucketLogical}
)

// envEvent is the decoded payload of an environment event.
type envEvent struct {
	typ  string
	data any
}

func prepareEnvironment(eventType string, data []byte) (*envEvent, bool, error) {
	var target any
	switch eventType {
	case domain.EventEnvironmentCreated, domain.EventEnvironmentUpdated:
		target = new(domain.Environment)
	case domain.EventEnvironmentDeleted:
		target = new(domain.EnvironmentDeleted)
	case domain.EventSnapshotRecorded:
		target = new(snapshotHead)
	case domain.EventBaselineApproved:
		target = new(domain.Baseline)
	case domain.EventDriftChecked:
		target = new(struct{})
	case domain.EventAllowlistAdded:
		target = new(domain.AllowlistEntry)
	case domain.EventAllowlistRemoved:
		target = new(domain.AllowlistRemoved)
	case domain.EventLogicalCreated, domain.EventLogicalUpdated, domain.EventLogicalMemberAdded, domain.EventLogicalMemberRemoved:
		target = new(domain.LogicalEnvironment)
	case domain.EventLogicalDeleted:
		target = new(domain.LogicalDeleted)
	default:
		return nil, false, nil
	}
	if err := json.Unmarshal(data, target); err != nil {
		return nil, true, fmt.Errorf("projections: decode %s: %w", eventType, err)
	}
	return &envEvent{typ: eventType, data: target}, true, nil
}

// snapshotHead is a snapshot without its artifacts: the indexes need only
// this, and a large snapshot's artifacts are decoded only when read.
type snapshotHead struct {
	ID            string    `json:"id"`
	EnvironmentID string    `json:"environmentId"`
	SnapshotIndex int       `json:"snapshotIndex"`
	RecordedAt    time.Time `json:"recordedAt"`
}

func envIndexKey(envID string, index int) []byte {
	return seqIndexKey(envID, seqKey(uint64(index)))
}

func writeEnvironment(tx *bolt.Tx, seq []byte, env string, ev *envEvent) error {
	switch d := ev.data.(type) {
	case *domain.Environment:
		var old domain.Environment
		if ok, err := getJSON(tx.Bucket(bucketEnvs), d.ID, &old); err != nil {
			return err
		} else if ok {
			if err := tx.Bucket(bucketEnvNames).Delete([]byte(old.Org() + "/" + old.Name)); err != nil {
				return err
			}
		}
		if err := putJSON(tx.Bucket(bucketEnvs), d.ID, d); err != nil {
			return err
		}
		return tx.Bucket(bucketEnvNames).Put([]byte(d.Org()+"/"+d.Name), []byte(d.ID))
	case *domain.EnvironmentDeleted:
		e := &domain.Environment{Name: d.Name, OrgSlug: d.OrgSlug}
		if err := tx.Bucket(bucketEnvNames).Delete([]byte(e.Org() + "/" + e.Name)); err != nil {
			return err
		}
		return tx.Bucket(bucketEnvs).Delete([]byte(d.ID))
	case *snapshotHead:
		v := make([]byte, 16)
		copy(v, seq)
		binary.BigEndian.PutUint64(v[8:], uint64(d.RecordedAt.UnixNano()))
		if err := tx.Bucket(bucketEnvSnaps).Put(envIndexKey(d.EnvironmentID, d.SnapshotIndex), v); err != nil {
			return err
		}
		return tx.Bucket(bucketSnapshotIDs).Put([]byte(d.ID), envIndexKey(d.EnvironmentID, d.SnapshotIndex))
	case *domain.Baseline:
		return tx.Bucket(bucketEnvBaselines).Put([]byte(d.EnvironmentID), seq)
	case *domain.AllowlistEntry:
		if err := putJSON(tx.Bucket(bucketAllowlist), d.ID, d); err != nil {
			return err
		}
		return tx.Bucket(bucketEnvAllow).Put(seqIndexKey(d.EnvironmentID, seq), []byte(d.ID))
	case *domain.AllowlistRemoved:
		var a domain.AllowlistEntry
		if ok, err := getJSON(tx.Bucket(bucketAllowlist), d.ID, &a); err != nil || !ok {
			return err
		}
		a.Status, a.RemovedAt = domain.AllowlistStatusRemoved, &d.RemovedAt
		return putJSON(tx.Bucket(bucketAllowlist), a.ID, &a)
	case *domain.LogicalEnvironment:
		return putJSON(tx.Bucket(bucketLogical), d.ID, d)
	case *domain.LogicalDeleted:
		return tx.Bucket(bucketLogical).Delete([]byte(d.ID))
	}
	if ev.typ == domain.EventDriftChecked {
		return tx.Bucket(bucketEnvDrift).Put(seqIndexKey(env, seq), nil)
	}
	return nil
}

// Environment returns the environment with id.
func (s *Store) Environment(id string) (*domain.Environment, error) {
	e := new(domain.Environment)
	err := s.db.View(func(tx *bolt.Tx) error { return getOr404(tx.Bucket(bucketEnvs), "environment", id, e) })
	return e, err
}

// Environments pages through environments, oldest first.
func (s *Store) Environments(page, size int) ([]domain.Environment, int, error) {
	var all []domain.Environment
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEnvs).ForEach(func(_, v []byte) error {
			var e domain.Environment
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			all = append(all, e)
			return nil
		})
	})
	sort.Slice(all, func(i, j int) bool {
		if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
			return all[i].CreatedAt.Before(all[j].CreatedAt)
		}
		return all[i].ID < all[j].ID
	})
	out := []domain.Environment{}
	for i := page * size; i < len(all) && len(out) < size; i++ {
		out = append(out, all[i])
	}
	return out, len(all), err
}

// snapshotAt decodes the snapshot event at seq.
func snapshotAt(tx *bolt.Tx, seq []byte) (*domain.Snapshot, error) {
	data, err := eventData(tx, seq)
	if err != nil {
		return nil, err
	}
	snap := new(domain.Snapshot)
	return snap, json.Unmarshal(data, snap)
}

// LatestSnapshotIndex returns the environment's last snapshot index (0: none).
func (s *Store) LatestSnapshotIndex(envID string) (int, error) {
	idx := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketEnvs).Get([]byte(envID)) == nil {
			return domain.NotFound("environment", envID)
		}
		idx = latestIndex(tx, envID)
		return nil
	})
	return idx, err
}

func latestIndex(tx *bolt.Tx, envID string) int {
	c := tx.Bucket(bucketEnvSnaps).Cursor()
	p := append([]byte(envID), 0)
	k, _ := c.Seek(envIndexKey(envID, 1<<62))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || len(k) != len(p)+8 || string(k[:len(p)]) != string(p) {
		return 0
	}
	return int(binary.BigEndian.Uint64(k[len(p):]))
}

// Snapshot returns snapshot index of an environment; a negative index
// counts back from the latest (-1: the latest, -2: the one before).
func (s *Store) Snapshot(envID string, index int) (*domain.Snapshot, error) {
	var snap *domain.Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketEnvs).Get([]byte(envID)) == nil {
			return domain.NotFound("environment", envID)
		}
		asked := index
		if index < 0 {
			index = latestIndex(tx, envID) + index + 1
		}
		var v []byte
		if index > 0 {
			v = tx.Bucket(bucketEnvSnaps).Get(envIndexKey(envID, index))
		}
		if v == nil {
			return domain.NotFound("snapshot", fmt.Sprint(asked))
		}
		var err error
		snap, err = snapshotAt(tx, v[:8])
		return err
	})
	return snap, err
}

// SnapshotByID returns a snapshot by its id.
func (s *Store) SnapshotByID(id string) (*domain.Snapshot, error) {
	var snap *domain.Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		k := tx.Bucket(bucketSnapshotIDs).Get([]byte(id))
		if k == nil {
			return domain.NotFound("snapshot", id)
		}
		v := tx.Bucket(bucketEnvSnaps).Get(k)
		if v == nil {
			return domain.NotFound("snapshot", id)
		}
		var err error
		snap, err = snapshotAt(tx, v[:8])
		return err
	})
	return snap, err
}

// Snapshots lists an environment's snapshots, oldest first.
func (s *Store) Snapshots(envID string) ([]domain.Snapshot, error) {
	out := []domain.Snapshot{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketEnvs).Get([]byte(envID)) == nil {
			return domain.NotFound("environment", envID)
		}
		return forPrefix(tx.Bucket(bucketEnvSnaps), envID, func(_ uint64, v []byte) error {
			snap, err := snapshotAt(tx, v[:8])
			if err == nil {
				out = append(out, *snap)
			}
			return err
		})
	})
	return out, err
}

// SnapshotAt returns the snapshot in force at t: the last one recorded at
// or before t.
func (s *Store) SnapshotAt(envID string, t time.Time) (*domain.Snapshot, error) {
	var snap *domain.Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketEnvs).Get([]byte(envID)) == nil {
			return domain.NotFound("environment", envID)
		}
		var seq []byte
		// UnixNano is defined for 1678-2262 only; stored times are inside
		// that range, so clamp the question to it.
		limit := t.UnixNano()
		switch {
		case t.Before(time.Unix(0, math.MinInt64)):
			limit = math.MinInt64
		case t.After(time.Unix(0, math.MaxInt64)):
			limit = math.MaxInt64
		}
		err := forPrefix(tx.Bucket(bucketEnvSnaps), envID, func(_ uint64, v []byte) error {
			if int64(binary.BigEndian.Uint64(v[8:])) <= limit {
				seq = v[:8]
			}
			return nil
		})
		if err != nil {
			return err
		}
		if seq == nil {
			return domain.NotFound("snapshot at", t.Format(time.RFC3339Nano))
		}
		snap, err = snapshotAt(tx, seq)
		return err
	})
	return snap, err
}

// CurrentBaseline returns the environment's active baseline.
func (s *Store) CurrentBaseline(envID string) (*domain.Baseline, error) {
	b := new(domain.Baseline)
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketEnvs).Get([]byte(envID)) == nil {
			return domain.NotFound("environment", envID)
		}
		seq := tx.Bucket(bucketEnvBaselines).Get([]byte(envID))
		if seq == nil {
			return domain.NotFound("baseline of environment", envID)
		}
		data, err := eventData(tx, seq)
		if err != nil {
			return err
		}
		return json.Unmarshal(data, b)
	})
	return b, err
}

// DriftHistory lists an environment's recorded drift checks, oldest first.
func (s *Store) DriftHistory(envID string) ([]domain.DriftReport, error) {
	out := []domain.DriftReport{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketEnvs).Get([]byte(envID)) == nil {
			return domain.NotFound("environment", envID)
		}
		return forPrefix(tx.Bucket(bucketEnvDrift), envID, func(seq uint64, _ []byte) error {
			data, err := eventData(tx, seqKey(seq))
			if err != nil {
				return err
			}
			var r domain.DriftReport
			if err := json.Unmarshal(data, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// Allowlist lists an environment's allow-list entries, removed ones too.
func (s *Store) Allowlist(envID string) ([]domain.AllowlistEntry, error) {
	out := []domain.AllowlistEntry{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketEnvs).Get([]byte(envID)) == nil {
			return domain.NotFound("environment", envID)
		}
		return forPrefix(tx.Bucket(bucketEnvAllow), envID, func(_ uint64, id []byte) error {
			return appendJSON(tx.Bucket(bucketAllowlist), string(id), &out)
		})
	})
	return out, err
}

// AllowlistEntry returns one entry.
func (s *Store) AllowlistEntry(id string) (*domain.AllowlistEntry, error) {
	a := new(domain.AllowlistEntry)
	err := s.db.View(func(tx *bolt.Tx) error { return getOr404(tx.Bucket(bucketAllowlist), "allow-list entry", id, a) })
	return a, err
}

// LogicalEnvironment returns one logical environment.
func (s *Store) LogicalEnvironment(id string) (*domain.LogicalEnvironment, error) {
	l := new(domain.LogicalEnvironment)
	err := s.db.View(func(tx *bolt.Tx) error { return getOr404(tx.Bucket(bucketLogical), "logical environment", id, l) })
	return l, err
}

// LogicalEnvironments lists logical environments, oldest first.
func (s *Store) LogicalEnvironments() ([]domain.LogicalEnvironment, error) {
	out := []domain.LogicalEnvironment{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLogical).ForEach(func(_, v []byte) error {
			var l domain.LogicalEnvironment
			if err := json.Unmarshal(v, &l); err != nil {
				return err
			}
			out = append(out, l)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

// FlowVerdict is how one flow judges a running artifact.
type FlowVerdict struct {
	FlowID   string `json:"flowId"`
	FlowName string `json:"flowName"`
	TrailID  string `json:"trailId,omitempty"`
	Status   string `json:"status"`
}

// RunningCompliance judges each digest against every flow whose trails
// reported it, now. A digest no trail reported maps to no verdicts.
func (s *Store) RunningCompliance(digests []string) (map[string][]FlowVerdict, error) {
	out := make(map[string][]FlowVerdict, len(digests))
	err := s.db.View(func(tx *bolt.Tx) error {
		var applied uint64
		if v := tx.Bucket(bucketMeta).Get(keyApplied); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		for _, d := range digests {
			if _, done := out[d]; done {
				continue
			}
			verdicts, err := s.runningVerdicts(tx, d, applied)
			if err != nil {
				return err
			}
			out[d] = verdicts
		}
		return nil
	})
	return out, err
}

func (s *Store) runningVerdicts(tx *bolt.Tx, digest string, atSeq uint64) ([]FlowVerdict, error) {
	byFlow := map[string][]*domain.TrailFacts{}
	var flows []string
	seen := map[string]bool{}
	err := forPrefix(tx.Bucket(bucketDigests), digest, func(_ uint64, v []byte) error {
		_, trailID := splitDigestEntry(v)
		if seen[trailID] {
			return nil
		}
		seen[trailID] = true
		facts, err := trailFactsAt(tx, trailID, atSeq)
		if err != nil || facts.Trail == nil {
			return err
		}
		f := facts.Trail.FlowID
		if _, ok := byFlow[f]; !ok {
			flows = append(flows, f)
		}
		byFlow[f] = append(byFlow[f], facts)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []FlowVerdict
	for _, f := range flows {
		flow, err := s.flowAsOf(tx, f, atSeq)
		if err != nil {
			continue // the flow was deleted: it judges nothing now
		}
		a := domain.Assert(domain.AssertInput{Flow: flow, Digest: digest, Trails: byFlow[f]})
		v := FlowVerdict{FlowID: f, FlowName: flow.Name, Status: a.Status}
		if a.TrailID != nil {
			v.TrailID = *a.TrailID
		}
		out = append(out, v)
	}
	return out, nil
}
