package domain

import (
	"sort"
	"time"
)

// SnapshotDiff compares two snapshots of an environment by artifact name.
type SnapshotDiff struct {
	EnvironmentID     string       `json:"environmentId"`
	FromSnapshotIndex int          `json:"fromSnapshotIndex"`
	ToSnapshotIndex   int          `json:"toSnapshotIndex"`
	Added             []DriftEntry `json:"added"`
	Removed           []DriftEntry `json:"removed"`
	Updated           []DriftEntry `json:"updated"`
	Unchanged         []DriftEntry `json:"unchanged"`
}

// byName keys a snapshot's artifacts by name; the last one wins.
func byName(s *Snapshot) map[string]SnapshotArtifact {
	if s == nil {
		return map[string]SnapshotArtifact{}
	}
	m := make(map[string]SnapshotArtifact, len(s.Artifacts))
	for _, a := range s.Artifacts {
		m[a.ArtifactName] = a
	}
	return m
}

func strp(s string) *string { return &s }

// DiffSnapshots computes added (only in to), removed (only in from),
// updated (same name, other digest) and unchanged, each sorted by name.
func DiffSnapshots(from, to *Snapshot) SnapshotDiff {
	// A missing side is an empty snapshot.
	if from == nil {
		from = &Snapshot{}
	}
	if to == nil {
		to = &Snapshot{EnvironmentID: from.EnvironmentID}
	}
	d := SnapshotDiff{EnvironmentID: to.EnvironmentID, FromSnapshotIndex: from.SnapshotIndex, ToSnapshotIndex: to.SnapshotIndex,
		Added: []DriftEntry{}, Removed: []DriftEntry{}, Updated: []DriftEntry{}, Unchanged: []DriftEntry{}}
	f, t := byName(from), byName(to)
	for name, a := range t {
		old, ok := f[name]
		switch {
		case !ok:
			d.Added = append(d.Added, DriftEntry{ArtifactName: name, ArtifactTag: a.ArtifactTag, Sha256To: strp(a.ArtifactSha256)})
		case old.ArtifactSha256 != a.ArtifactSha256:
			d.Updated = append(d.Updated, DriftEntry{ArtifactName: name, ArtifactTag: a.ArtifactTag,
				Sha256From: strp(old.ArtifactSha256), Sha256To: strp(a.ArtifactSha256)})
		default:
			d.Unchanged = append(d.Unchanged, DriftEntry{ArtifactName: name, ArtifactTag: a.ArtifactTag,
				Sha256From: strp(old.ArtifactSha256), Sha256To: strp(a.ArtifactSha256)})
		}
	}
	for name, a := range f {
		if _, ok := t[name]; !ok {
			d.Removed = append(d.Removed, DriftEntry{ArtifactName: name, ArtifactTag: a.ArtifactTag, Sha256From: strp(a.ArtifactSha256)})
		}
	}
	for _, l := range [][]DriftEntry{d.Added, d.Removed, d.Updated, d.Unchanged} {
		sort.Slice(l, func(i, j int) bool { return l[i].ArtifactName < l[j].ArtifactName })
	}
	return d
}

// ComputeDrift compares the baseline's snapshot with the latest one. A
// difference whose artifact an allow-list entry in force at now names is
// listed as allowed instead. The environment's drift policy decides what
// is reported: IGNORE never reports drift, WARN reports it, BLOCK reports
// it as blocking.
func ComputeDrift(env *Environment, baseline *Baseline, base, latest *Snapshot, allow []AllowlistEntry, now time.Time) DriftReport {
	d := DiffSnapshots(base, latest)
	r := DriftReport{EnvironmentID: env.ID, BaselineID: baseline.ID, SnapshotID: latest.ID, SnapshotIndex: latest.SnapshotIndex,
		GeneratedAt: now.UTC(), DriftPolicy: env.DriftPolicy,
		Added: []DriftEntry{}, Removed: []DriftEntry{}, Updated: []DriftEntry{}, Allowed: []DriftEntry{}}
	allowed := func(e DriftEntry) bool {
		sha := e.Sha256To
		if sha == nil {
			sha = e.Sha256From
		}
		for i := range allow {
			if allow[i].EffectiveAt(now) && allow[i].Matches(*sha, e.ArtifactName) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		in  []DriftEntry
		out *[]DriftEntry
	}{{d.Added, &r.Added}, {d.Removed, &r.Removed}, {d.Updated, &r.Updated}} {
		for _, e := range c.in {
			if allowed(e) {
				r.Allowed = append(r.Allowed, e)
			} else {
				*c.out = append(*c.out, e)
			}
		}
	}
	drift := len(r.Added)+len(r.Removed)+len(r.Updated) > 0
	r.HasDrift = drift && env.DriftPolicy != "IGNORE"
	r.Blocking = r.HasDrift && env.DriftPolicy == "BLOCK"
	return r
}
