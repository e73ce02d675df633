package domain_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
)

var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestB = "sha256:" + strings.Repeat("b", 64)
)

// beginTrail starts trail id of flowID; an empty name leaves the name to
// default to the id.
func beginTrail(id, flowID, name string) domain.BeginTrail {
	f := domain.TrailFields{
		FlowID: flowID, GitCommitSha: ptr("0a1b2c3d"), GitBranch: ptr("main"),
		GitAuthor: ptr("dev"), GitAuthorEmail: ptr("dev@example.com"),
	}
	if name != "" {
		f.Name = ptr(name)
	}
	return domain.BeginTrail{ID: id, Fields: f}
}

func attest(id, trailID, typ, status string) domain.RecordAttestation {
	return domain.RecordAttestation{ID: id, TrailID: trailID, Fields: domain.AttestationFields{Type: ptr(typ), Status: ptr(status)}}
}

// attestNamed records a named attestation, bound to digest unless it is "".
func attestNamed(id, trailID, name, typ, status, digest string) domain.RecordAttestation {
	c := attest(id, trailID, typ, status)
	c.Fields.Name = ptr(name)
	if digest != "" {
		c.Fields.ArtifactFingerprint = ptr(digest)
	}
	return c
}

func report(id, trailID, name, digest string) domain.ReportArtifact {
	return domain.ReportArtifact{ID: id, TrailID: trailID, Actor: "ci", Fields: domain.ArtifactFields{
		ImageName: ptr(name), ImageTag: ptr("1.0.0"), Sha256Digest: ptr(digest),
	}}
}

// verdict attaches evidence to attestation attID whose processor judged it status.
func verdict(trailID, attID, status string) domain.AttachEvidence {
	return domain.AttachEvidence{
		TrailID: trailID, AttestationID: attID,
		Evidence: domain.Evidence{ID: "ev-" + attID + "-" + status, FileName: "junit.xml", SHA256Hash: strings.Repeat("c", 64), FileSizeBytes: 10},
		Verdict:  &domain.ProcessorVerdict{Processor: "junit-xml", Status: status, Details: "judged " + status},
	}
}

// statusChanges summarises the trail.status.changed events among evts as
// "trail: PREVIOUS -> STATUS (reason)", checking their envelopes.
func statusChanges(t *testing.T, evts []domain.Event) []string {
	t.Helper()
	var out []string
	for _, e := range evts {
		if e.Type != domain.EventTrailStatusChanged {
			continue
		}
		c, ok := e.Data.(*domain.TrailStatusChanged)
		require.True(t, ok, "payload of %s is %T", e.Type, e.Data)
		assert.Equal(t, domain.AggregateTrail, e.Aggregate)
		assert.Equal(t, c.TrailID, e.AggregateID)
		assert.NotEmpty(t, c.FlowID)
		assert.Equal(t, now, c.At)
		out = append(out, fmt.Sprintf("%s: %s -> %s (%s)", c.TrailID, c.Previous, c.Status, c.Reason))
	}
	return out
}

func trailStatus(t *testing.T, s *domain.State, id string) string {
	t.Helper()
	tr, ok := s.Trail(id)
	require.True(t, ok, "trail %s", id)
	return tr.Status
}

type lifecycleStep struct {
	cmd domain.Command
	// changes are the status changes the command must decide (statusChanges form).
	changes []string
	// status is trail t1's status after the step.
	status string
}

func TestTrailStatusLifecycle(t *testing.T) {
	t.Parallel()
	const slotWhenReported = `
artifacts:
  - name: app
    attestations:
      - {name: scan, type: snyk, if: exists(artifact.fingerprint)}
`
	const unitSlot = `
trail:
  attestations:
    - {name: unit, type: junit}
`
	begin := beginTrail("t1", "f1", "build-1")
	withEmptyTemplate := begin
	withEmptyTemplate.Fields.TemplateYAML = ptr("version: 1")
	tests := []struct {
		name  string
		flow  domain.FlowFields
		steps []lifecycleStep
	}{
		{
			name: "nothing required: compliant from the start, unrequired failures change nothing",
			flow: domain.FlowFields{Name: ptr("svc")},
			steps: []lifecycleStep{
				{cmd: begin, status: domain.TrailCompliant},
				{cmd: attest("a1", "t1", "sonar", domain.AttestationFailed), status: domain.TrailCompliant},
			},
		},
		{
			name: "junit then snyk PASSED: COMPLIANT decided with the last one",
			flow: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit", "snyk"}},
			steps: []lifecycleStep{
				{cmd: begin, status: domain.TrailPending},
				{cmd: attest("a1", "t1", "junit", domain.AttestationPassed), status: domain.TrailPending},
				{cmd: attest("a2", "t1", "snyk", domain.AttestationPassed), status: domain.TrailCompliant,
					changes: []string{"t1: PENDING -> COMPLIANT (snyk attestation PASSED)"}},
				{cmd: attest("a3", "t1", "junit", domain.AttestationFailed), status: domain.TrailNonCompliant,
					changes: []string{"t1: COMPLIANT -> NON_COMPLIANT (junit attestation FAILED)"}},
				{cmd: attest("a4", "t1", "junit", domain.AttestationPassed), status: domain.TrailCompliant,
					changes: []string{"t1: NON_COMPLIANT -> COMPLIANT (junit attestation PASSED)"}},
			},
		},
		{
			name: "a FAILED of a type the flow does not require changes nothing",
			flow: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit"}},
			steps: []lifecycleStep{
				{cmd: begin, status: domain.TrailPending},
				{cmd: attest("a1", "t1", "junit", domain.AttestationPassed), status: domain.TrailCompliant,
					changes: []string{"t1: PENDING -> COMPLIANT (junit attestation PASSED)"}},
				{cmd: attest("a2", "t1", "sonar", domain.AttestationFailed), status: domain.TrailCompliant},
				{cmd: attest("a3", "t1", "JUnit", domain.AttestationFailed), status: domain.TrailCompliant},
			},
		},
		{
			name: "a failure while pending, then a PENDING attestation of the failed type",
			flow: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit", "snyk"}},
			steps: []lifecycleStep{
				{cmd: begin, status: domain.TrailPending},
				{cmd: attest("a1", "t1", "junit", domain.AttestationFailed), status: domain.TrailNonCompliant,
					changes: []string{"t1: PENDING -> NON_COMPLIANT (junit attestation FAILED)"}},
				{cmd: attest("a2", "t1", "snyk", domain.AttestationPassed), status: domain.TrailNonCompliant},
				{cmd: attest("a3", "t1", "junit", domain.AttestationPending), status: domain.TrailPending,
					changes: []string{"t1: NON_COMPLIANT -> PENDING (junit attestation PENDING)"}},
			},
		},
		{
			name: "an evidence verdict overrides the attestation's status",
			flow: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit"}},
			steps: []lifecycleStep{
				{cmd: begin, status: domain.TrailPending},
				{cmd: attest("a1", "t1", "junit", domain.AttestationPassed), status: domain.TrailCompliant,
					changes: []string{"t1: PENDING -> COMPLIANT (junit attestation PASSED)"}},
				{cmd: verdict("t1", "a1", domain.AttestationFailed), status: domain.TrailNonCompliant,
					changes: []string{"t1: COMPLIANT -> NON_COMPLIANT (junit-xml evidence FAILED)"}},
				{cmd: domain.AttachEvidence{TrailID: "t1", AttestationID: "a1", Evidence: domain.Evidence{ID: "plain"}}, status: domain.TrailNonCompliant},
				{cmd: verdict("t1", "a1", domain.AttestationPassed), status: domain.TrailCompliant,
					changes: []string{"t1: NON_COMPLIANT -> COMPLIANT (junit-xml evidence PASSED)"}},
			},
		},
		{
			name: "a verdict on a superseded attestation changes nothing",
			flow: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit"}},
			steps: []lifecycleStep{
				{cmd: begin, status: domain.TrailPending},
				{cmd: attest("a1", "t1", "junit", domain.AttestationPassed), status: domain.TrailCompliant,
					changes: []string{"t1: PENDING -> COMPLIANT (junit attestation PASSED)"}},
				{cmd: attest("a2", "t1", "junit", domain.AttestationPassed), status: domain.TrailCompliant},
				{cmd: verdict("t1", "a1", domain.AttestationFailed), status: domain.TrailCompliant},
				{cmd: verdict("t1", "a2", domain.AttestationFailed), status: domain.TrailNonCompliant,
					changes: []string{"t1: COMPLIANT -> NON_COMPLIANT (junit-xml evidence FAILED)"}},
			},
		},
		{
			name: "reporting an artifact can bring a template slot into force",
			flow: domain.FlowFields{Name: ptr("svc"), TemplateYAML: ptr(slotWhenReported)},
			steps: []lifecycleStep{
				{cmd: begin, status: domain.TrailCompliant},
				{cmd: report("art1", "t1", "app", digestA), status: domain.TrailPending,
					changes: []string{"t1: COMPLIANT -> PENDING (artifact app reported)"}},
				{cmd: attestNamed("a1", "t1", "scan", "snyk", domain.AttestationPassed, digestA), status: domain.TrailCompliant,
					changes: []string{"t1: PENDING -> COMPLIANT (snyk attestation PASSED)"}},
			},
		},
		{
			name: "a template slot is filled by name and, when it says so, type",
			flow: domain.FlowFields{Name: ptr("svc"), TemplateYAML: ptr(unitSlot), RequiredAttestationTypes: []string{"snyk"}},
			steps: []lifecycleStep{
				{cmd: begin, status: domain.TrailPending},
				{cmd: attestNamed("a1", "t1", "unit", "generic", domain.AttestationPassed, ""), status: domain.TrailPending},
				{cmd: attest("a2", "t1", "junit", domain.AttestationPassed), status: domain.TrailPending},
				{cmd: attestNamed("a3", "t1", "unit", "junit", domain.AttestationPassed, ""), status: domain.TrailCompliant,
					changes: []string{"t1: PENDING -> COMPLIANT (junit attestation PASSED)"}},
			},
		},
		{
			name: "a trail's own empty template overrides the flow's requirements",
			flow: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit"}},
			steps: []lifecycleStep{
				{cmd: withEmptyTemplate, status: domain.TrailCompliant},
				{cmd: attest("a1", "t1", "junit", domain.AttestationFailed), status: domain.TrailCompliant},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := domain.NewState()
			apply(t, s, domain.CreateFlow{ID: "f1", Fields: tc.flow})
			for i, st := range tc.steps {
				evts := apply(t, s, st.cmd)
				require.NotEmpty(t, evts, "step %d", i)
				assert.Equal(t, st.changes, statusChanges(t, evts), "step %d (%T)", i, st.cmd)
				assert.Equal(t, st.status, trailStatus(t, s, "t1"), "step %d (%T)", i, st.cmd)
				if started, ok := evts[0].Data.(*domain.Trail); ok {
					assert.Equal(t, st.status, started.Status, "trail.started carries the initial status")
				}
			}
		})
	}
}

// updateFixture: flow f1 requires junit; t1 and t2 passed it, t3 has
// nothing, t4 has its own empty template; t5 is a compliant trail of f2.
func updateFixture(t *testing.T) *domain.State {
	t.Helper()
	s := domain.NewState()
	own := beginTrail("t4", "f1", "")
	own.Fields.TemplateYAML = ptr("version: 1")
	for _, c := range []domain.Command{
		domain.CreateFlow{ID: "f1", Fields: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit"}}},
		domain.CreateFlow{ID: "f2", Fields: domain.FlowFields{Name: ptr("other"), RequiredAttestationTypes: []string{"junit"}}},
		beginTrail("t1", "f1", ""), attest("a1", "t1", "junit", domain.AttestationPassed),
		beginTrail("t2", "f1", ""), attest("a2", "t2", "junit", domain.AttestationPassed),
		beginTrail("t3", "f1", ""), own,
		beginTrail("t5", "f2", ""), attest("a5", "t5", "junit", domain.AttestationPassed),
	} {
		apply(t, s, c)
	}
	return s
}

func TestUpdateFlowRecomputesTrailStatus(t *testing.T) {
	t.Parallel()
	const (
		c, p = domain.TrailCompliant, domain.TrailPending
	)
	tests := []struct {
		name    string
		fields  domain.FlowFields
		changes []string
		// statuses of t1..t5 afterwards
		statuses []string
	}{
		{
			name:   "adding a required type sends compliant trails back to PENDING",
			fields: domain.FlowFields{RequiredAttestationTypes: []string{"junit", "snyk"}},
			changes: []string{
				"t1: COMPLIANT -> PENDING (flow requirements changed)",
				"t2: COMPLIANT -> PENDING (flow requirements changed)",
			},
			statuses: []string{p, p, p, c, c},
		},
		{
			name:     "dropping every requirement makes pending trails compliant",
			fields:   domain.FlowFields{RequiredAttestationTypes: []string{}},
			changes:  []string{"t3: PENDING -> COMPLIANT (flow requirements changed)"},
			statuses: []string{c, c, c, c, c},
		},
		{
			name:     "a change that is not a requirement changes no status",
			fields:   domain.FlowFields{Description: ptr("now documented"), Tags: map[string]string{"env": "prod"}},
			statuses: []string{c, c, p, c, c},
		},
		{
			name:   "a flow template replaces the required types",
			fields: domain.FlowFields{TemplateYAML: ptr("trail:\n  attestations:\n    - {name: smoke}\n")},
			changes: []string{
				"t1: COMPLIANT -> PENDING (flow requirements changed)",
				"t2: COMPLIANT -> PENDING (flow requirements changed)",
			},
			statuses: []string{p, p, p, c, c},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := updateFixture(t)
			evts := apply(t, s, domain.UpdateFlow{ID: "f1", Fields: tc.fields})
			require.NotEmpty(t, evts)
			assert.Equal(t, domain.EventFlowUpdated, evts[0].Type)
			assert.Equal(t, tc.changes, statusChanges(t, evts))
			for i, want := range tc.statuses {
				id := fmt.Sprintf("t%d", i+1)
				assert.Equal(t, want, trailStatus(t, s, id), id)
			}
		})
	}
}

// errorFixture: flow f1 (requires junit) with trail t1 "build-1" carrying
// artifact art1 (digestA) and attestation a1; flow f2 with trail t2
// "build-2" carrying artifact art2 (digestB).
func errorFixture(t *testing.T) *domain.State {
	t.Helper()
	s := domain.NewState()
	for _, c := range []domain.Command{
		domain.CreateFlow{ID: "f1", Fields: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit"}}},
		domain.CreateFlow{ID: "f2", Fields: domain.FlowFields{Name: ptr("other"), OrgSlug: ptr("acme")}},
		beginTrail("t1", "f1", "build-1"), report("art1", "t1", "app", digestA), attest("a1", "t1", "junit", domain.AttestationPassed),
		beginTrail("t2", "f2", "build-2"), report("art2", "t2", "lib", digestB),
	} {
		apply(t, s, c)
	}
	return s
}

func TestTrailCommandRules(t *testing.T) {
	t.Parallel()
	wrongOrg := beginTrail("t9", "f1", "x")
	wrongOrg.Fields.OrgSlug = ptr("acme")
	badVerdict := verdict("t1", "a1", "MAYBE")
	tests := []struct {
		name  string
		cmd   domain.Command
		err   error  // nil: the command is accepted
		field string // for ErrInvalid
	}{
		{"delete a flow that has trails", domain.DeleteFlow{ID: "f1"}, domain.ErrConflict, ""},
		{"trail name taken in the flow", beginTrail("t9", "f1", "build-1"), domain.ErrConflict, ""},
		{"trail name taken, trimmed", beginTrail("t9", "f1", "  build-1 "), domain.ErrConflict, ""},
		{"default name (the id) taken", beginTrail("build-1", "f1", ""), domain.ErrConflict, ""},
		{"same trail name in another flow", beginTrail("t9", "f2", "build-1"), nil, ""},
		{"trail id taken", beginTrail("t1", "f2", "fresh"), domain.ErrConflict, ""},
		{"trail of an unknown flow", beginTrail("t9", "nope", ""), domain.ErrNotFound, ""},
		{"trail org not the flow's", wrongOrg, domain.ErrInvalid, "orgSlug"},
		{"fingerprint of an artifact on the trail", attestNamed("a9", "t1", "x", "junit", domain.AttestationPassed, digestA), nil, ""},
		{"fingerprint as bare upper-case hex", attestNamed("a9", "t1", "x", "junit", domain.AttestationPassed, strings.Repeat("A", 64)), nil, ""},
		{"fingerprint of an artifact of another trail", attestNamed("a9", "t1", "x", "junit", domain.AttestationPassed, digestB), domain.ErrInvalid, "artifactFingerprint"},
		{"fingerprint malformed", attestNamed("a9", "t1", "x", "junit", domain.AttestationPassed, "sha256:zz"), domain.ErrInvalid, "artifactFingerprint"},
		{"attestation status unknown", attest("a9", "t1", "junit", "OK"), domain.ErrInvalid, "status"},
		{"attestation id taken", attest("a1", "t1", "junit", domain.AttestationPassed), domain.ErrConflict, ""},
		{"attestation on an unknown trail", attest("a9", "nope", "junit", domain.AttestationPassed), domain.ErrNotFound, ""},
		{"artifact on an unknown trail", report("art9", "nope", "app", digestA), domain.ErrNotFound, ""},
		{"artifact id taken", report("art1", "t1", "app", digestA), domain.ErrConflict, ""},
		{"evidence on an unknown trail", verdict("nope", "a1", domain.AttestationPassed), domain.ErrNotFound, ""},
		{"evidence for another trail's attestation", verdict("t2", "a1", domain.AttestationPassed), domain.ErrNotFound, ""},
		{"evidence verdict not a status", badVerdict, domain.ErrInvalid, "status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := errorFixture(t)
			evts, err := tc.cmd.Decide(s, now)
			if tc.err == nil {
				require.NoError(t, err)
				assert.NotEmpty(t, evts)
				return
			}
			require.ErrorIs(t, err, tc.err)
			assert.Empty(t, evts)
			if tc.field != "" {
				var fe *domain.FieldError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tc.field, fe.Field)
			}
		})
	}
}

// sameDecisions decides each command on a and b, requires the same events
// or the same error from both, and folds the events into both.
func sameDecisions(t *testing.T, a, b *domain.State, cmds []domain.Command) {
	t.Helper()
	for i, c := range cmds {
		ea, errA := c.Decide(a, now)
		eb, errB := c.Decide(b, now)
		if errA != nil {
			require.EqualError(t, errB, errA.Error(), "command %d (%T)", i, c)
			continue
		}
		require.NoError(t, errB, "command %d (%T)", i, c)
		require.Equal(t, ea, eb, "command %d (%T)", i, c)
		for _, e := range ea {
			a.ApplyEvent(e)
			b.ApplyEvent(e)
		}
	}
}

// A batch the stream refused is rolled back: trails, their facts and the
// uniqueness indexes are as before the batch.
func TestTrailStateRollback(t *testing.T) {
	t.Parallel()
	setup := []domain.Command{
		domain.CreateFlow{ID: "f1", Fields: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit", "snyk"}}},
		beginTrail("t1", "f1", "build-1"),
		report("art1", "t1", "app", digestA),
		attest("a1", "t1", "junit", domain.AttestationPassed),
	}
	batch := []domain.Command{
		attest("a2", "t1", "snyk", domain.AttestationPassed),
		verdict("t1", "a1", domain.AttestationFailed),
		report("art2", "t1", "lib", digestB),
		attestNamed("a3", "t1", "sbom", "sbom", domain.AttestationPassed, digestB),
		beginTrail("t2", "f1", "build-2"),
		attest("a4", "t2", "junit", domain.AttestationFailed),
		domain.UpdateFlow{ID: "f1", Fields: domain.FlowFields{RequiredAttestationTypes: []string{"snyk"}}},
	}
	s, ref := domain.NewState(), domain.NewState()
	for _, c := range setup {
		apply(t, s, c)
		apply(t, ref, c)
	}
	s.Commit()
	before, ok := s.Trail("t1")
	require.True(t, ok)
	snapshot := *before

	mark := s.Mark()
	var changes []string
	for _, c := range batch {
		changes = append(changes, statusChanges(t, apply(t, s, c))...)
	}
	require.Equal(t, []string{
		"t1: PENDING -> COMPLIANT (snyk attestation PASSED)",
		"t1: COMPLIANT -> NON_COMPLIANT (junit-xml evidence FAILED)",
		"t2: PENDING -> NON_COMPLIANT (junit attestation FAILED)",
		"t1: NON_COMPLIANT -> COMPLIANT (flow requirements changed)",
		"t2: NON_COMPLIANT -> PENDING (flow requirements changed)",
	}, changes, "the batch changed the state")

	s.Rollback(mark)
	after, ok := s.Trail("t1")
	require.True(t, ok)
	assert.Equal(t, snapshot, *after)
	_, ok = s.Trail("t2")
	assert.False(t, ok)
	f, ok := s.Flow("f1")
	require.True(t, ok)
	assert.Equal(t, []string{"junit", "snyk"}, f.RequiredAttestationTypes)

	// The rolled-back state decides as one that never saw the batch: its
	// statuses are recomputed from the old facts (without snyk, a junit pass
	// leaves t1 PENDING), and ids and names are free again.
	probes := append([]domain.Command{attest("a5", "t1", "junit", domain.AttestationPassed)}, batch...)
	sameDecisions(t, s, ref, append(probes, domain.DeleteFlow{ID: "f1"}, beginTrail("t3", "f1", "build-2")))
	assert.Equal(t, domain.TrailCompliant, trailStatus(t, s, "t1"))
	assert.Equal(t, domain.TrailPending, trailStatus(t, s, "t2"))
}

// Replaying stored trail events (Apply of their JSON) gives the same state
// as folding the decided events.
func TestTrailApplyFromStoredEvents(t *testing.T) {
	t.Parallel()
	const tmpl = `
trail:
  attestations:
    - {name: review}
  artifacts:
    - name: app
      attestations:
        - {name: unit, type: junit}
`
	history := []domain.Command{
		domain.CreateFlow{ID: "f1", Fields: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit"}, OrgSlug: ptr("acme")}},
		domain.CreateFlow{ID: "f2", Fields: domain.FlowFields{Name: ptr("web"), TemplateYAML: ptr(tmpl)}},
		beginTrail("t1", "f1", "build-1"),
		report("art1", "t1", "app", digestA),
		attestNamed("a1", "t1", "unit", "junit", domain.AttestationPassed, digestA),
		beginTrail("t2", "f1", "build-2"),
		attest("a2", "t2", "junit", domain.AttestationPassed),
		verdict("t2", "a2", domain.AttestationFailed),
		beginTrail("t3", "f2", "web-1"),
		report("art3", "t3", "app", digestB),
		attestNamed("a3", "t3", "review", "generic", domain.AttestationPassed, ""),
		domain.UpdateFlow{ID: "f1", Fields: domain.FlowFields{RequiredAttestationTypes: []string{"junit", "snyk"}}},
		domain.RecordAssertion{Decision: domain.ComplianceAsserted{Assessment: domain.Assessment{FlowID: "f1"}}, Org: "acme"},
	}
	decided, replayed := domain.NewState(), domain.NewState()
	seq := uint64(0)
	for _, c := range history {
		for _, e := range apply(t, decided, c) {
			data, err := json.Marshal(e.Data)
			require.NoError(t, err)
			seq++
			require.NoError(t, replayed.Apply(domain.Recorded{Seq: seq, Type: e.Type, Org: e.Org, Aggregate: e.Aggregate, AggregateID: e.AggregateID, Time: now, Data: data}))
		}
	}
	for _, id := range []string{"t1", "t2", "t3"} {
		want, ok := decided.Trail(id)
		require.True(t, ok)
		got, ok := replayed.Trail(id)
		require.True(t, ok, id)
		assert.Equal(t, want, got, id)
	}

	probes := []struct {
		name    string
		cmd     domain.Command
		changes []string
		err     error
	}{
		{"snyk completes t1", attest("p1", "t1", "snyk", domain.AttestationPassed), []string{"t1: PENDING -> COMPLIANT (snyk attestation PASSED)"}, nil},
		{"the replayed verdict still holds on t2", attest("p2", "t2", "snyk", domain.AttestationPassed), nil, nil},
		{"a new verdict on the replayed attestation", verdict("t2", "a2", domain.AttestationPassed), []string{"t2: NON_COMPLIANT -> COMPLIANT (junit-xml evidence PASSED)"}, nil},
		{"the template slot on the replayed artifact", attestNamed("p3", "t3", "unit", "junit", domain.AttestationPassed, digestB), []string{"t3: PENDING -> COMPLIANT (junit attestation PASSED)"}, nil},
		{"replayed artifacts bind fingerprints", attestNamed("p4", "t1", "x", "junit", domain.AttestationPassed, digestB), nil, domain.ErrInvalid},
		{"replayed attestation ids are taken", attest("a1", "t1", "junit", domain.AttestationPassed), nil, domain.ErrConflict},
		{"replayed trail names are taken", beginTrail("t9", "f1", "build-2"), nil, domain.ErrConflict},
		{"replayed trails keep their flow", domain.DeleteFlow{ID: "f2"}, nil, domain.ErrConflict},
		{"flow update recomputes replayed trails", domain.UpdateFlow{ID: "f1", Fields: domain.FlowFields{RequiredAttestationTypes: []string{"junit", "sonar"}}},
			[]string{"t1: COMPLIANT -> PENDING (flow requirements changed)", "t2: COMPLIANT -> PENDING (flow requirements changed)"}, nil},
	}
	for _, p := range probes {
		want, wantErr := p.cmd.Decide(decided, now)
		got, gotErr := p.cmd.Decide(replayed, now)
		if p.err != nil {
			require.ErrorIs(t, wantErr, p.err, p.name)
			require.ErrorIs(t, gotErr, p.err, p.name)
			continue
		}
		require.NoError(t, wantErr, p.name)
		require.NoError(t, gotErr, p.name)
		assert.Equal(t, want, got, p.name)
		assert.Equal(t, p.changes, statusChanges(t, got), p.name)
		for _, e := range want {
			decided.ApplyEvent(e)
			replayed.ApplyEvent(e)
		}
	}

	require.Error(t, replayed.Apply(domain.Recorded{Type: domain.EventTrailStarted, Data: []byte("{bad")}))
	require.Error(t, replayed.Apply(domain.Recorded{Type: domain.EventEvidenceAttached, Data: []byte(`{"status": 3}`)}))
}

func trailFacts(id, flowID string, arts []domain.ArtifactFact, atts ...domain.AttestationFact) *domain.TrailFacts {
	return &domain.TrailFacts{Trail: &domain.Trail{ID: id, FlowID: flowID, Name: id}, Artifacts: arts, Attestations: atts}
}

func fact(id, typ, status string) domain.AttestationFact {
	return domain.AttestationFact{ID: id, Type: typ, Status: status}
}

func namedFact(id, name, typ, status, fingerprint string) domain.AttestationFact {
	return domain.AttestationFact{ID: id, Name: name, Type: typ, Status: status, Fingerprint: fingerprint}
}

var (
	artApp = domain.ArtifactFact{ID: "art-app", Name: "app", Digest: digestA}
	artLib = domain.ArtifactFact{ID: "art-lib", Name: "lib", Digest: digestB}
)

// assertCase is one domain.Assert input and the parts of its answer checked.
type assertCase struct {
	name      string
	flow      *domain.Flow
	digest    string // digestA when ""
	trails    []*domain.TrailFacts
	elsewhere []*domain.TrailFacts
	status    string
	missing   []string
	failed    []string
	details   string
	trailID   string // "" for none
	// reasons maps a slot to a part of its explanation's reason;
	// outcomes maps a slot to its outcome.
	reasons  map[string]string
	outcomes map[string]string
	tmplErrs []string
}

func runAssertCases(t *testing.T, tests []assertCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			digest := tc.digest
			if digest == "" {
				digest = digestA
			}
			got := domain.Assert(domain.AssertInput{Flow: tc.flow, Digest: digest, Trails: tc.trails, Elsewhere: tc.elsewhere})
			assert.Equal(t, digest, got.Sha256Digest)
			assert.Equal(t, tc.flow.ID, got.FlowID)
			assert.Equal(t, tc.status, got.Status)
			assert.Equal(t, tc.status == domain.TrailCompliant, got.Compliant)
			assert.Equal(t, tc.details, got.Details)
			if tc.trailID == "" {
				assert.Nil(t, got.TrailID)
			} else if assert.NotNil(t, got.TrailID) {
				assert.Equal(t, tc.trailID, *got.TrailID)
			}
			templated := tc.flow.TemplateYAML != nil || (len(tc.trails) > 0 && tc.trails[0].Trail.TemplateYAML != nil)
			missing, failed := got.MissingAttestationTypes, got.FailedAttestationTypes
			other := [][]string{got.MissingAttestationNames, got.FailedAttestationNames}
			if templated {
				missing, failed = got.MissingAttestationNames, got.FailedAttestationNames
				other = [][]string{got.MissingAttestationTypes, got.FailedAttestationTypes}
			}
			assert.Equal(t, orNone(tc.missing), missing, "missing")
			assert.Equal(t, orNone(tc.failed), failed, "failed")
			for _, o := range other {
				assert.Equal(t, []string{}, o, "the other mode's lists are empty, not null")
			}
			assert.Equal(t, orNone(tc.tmplErrs), got.TemplateErrors)
			require.NotNil(t, got.Explanation)
			slots := map[string]domain.SlotResult{}
			for _, s := range got.Explanation {
				slots[s.Slot] = s
			}
			for slot, reason := range tc.reasons {
				if assert.Contains(t, slots, slot) {
					assert.Contains(t, slots[slot].Reason, reason, slot)
				}
			}
			for slot, outcome := range tc.outcomes {
				if assert.Contains(t, slots, slot) {
					assert.Equal(t, outcome, slots[slot].Outcome, slot)
				}
			}
		})
	}
}

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestAssertLegacy(t *testing.T) {
	t.Parallel()
	svc := &domain.Flow{ID: "f1", Name: "svc", RequiredAttestationTypes: []string{"junit", "snyk"}}
	junitOnly := &domain.Flow{ID: "f1", Name: "svc", RequiredAttestationTypes: []string{"junit"}}
	none := &domain.Flow{ID: "f1", Name: "svc", RequiredAttestationTypes: []string{}}
	app := []domain.ArtifactFact{artApp}
	both := []domain.ArtifactFact{artApp, artLib}
	runAssertCases(t, []assertCase{
		{
			name: "PASSED then FAILED: the later FAILED wins", flow: svc,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", app,
				fact("a1", "junit", "PASSED"), fact("a2", "junit", "FAILED"), fact("a3", "snyk", "PASSED"))},
			status: domain.TrailNonCompliant, failed: []string{"junit"}, trailID: "t1",
			details:  "Failed attestations: junit (trail t1)",
			outcomes: map[string]string{"junit": domain.SlotFailed, "snyk": domain.SlotSatisfied},
			reasons:  map[string]string{"junit": "latest junit attestation FAILED"},
		},
		{
			name: "FAILED then PASSED: the later PASSED wins", flow: svc,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", app,
				fact("a1", "junit", "FAILED"), fact("a2", "junit", "PASSED"), fact("a3", "snyk", "PASSED"))},
			status: domain.TrailCompliant, trailID: "t1",
			details:  "All required attestations passed on trail t1",
			outcomes: map[string]string{"junit": domain.SlotSatisfied, "snyk": domain.SlotSatisfied},
		},
		{
			name: "missing and failed together", flow: svc,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", app, fact("a1", "junit", "FAILED"))},
			status: domain.TrailNonCompliant, missing: []string{"snyk"}, failed: []string{"junit"}, trailID: "t1",
			details:  "Missing required attestations: snyk; Failed attestations: junit (trail t1)",
			outcomes: map[string]string{"junit": domain.SlotFailed, "snyk": domain.SlotMissing},
			reasons:  map[string]string{"snyk": "no snyk attestation recorded"},
		},
		{
			name: "a PENDING attestation leaves its type missing", flow: svc,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", app, fact("a1", "junit", "PASSED"), fact("a2", "snyk", "PENDING"))},
			status: domain.TrailNonCompliant, missing: []string{"snyk"}, trailID: "t1",
			details:  "Missing required attestations: snyk (trail t1)",
			outcomes: map[string]string{"snyk": domain.SlotPending},
			reasons:  map[string]string{"snyk": "latest snyk attestation is PENDING"},
		},
		{
			name: "types match exactly", flow: junitOnly,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", app, fact("a1", "JUnit", "PASSED"), fact("a2", "junit ", "PASSED"))},
			status: domain.TrailNonCompliant, missing: []string{"junit"}, trailID: "t1",
			details: "Missing required attestations: junit (trail t1)",
		},
		{
			name:    "no requirements: COMPLIANT",
			flow:    none,
			trails:  []*domain.TrailFacts{trailFacts("t1", "f1", app, fact("a1", "junit", "FAILED"))},
			status:  domain.TrailCompliant,
			trailID: "t1",
			details: "Flow requires no attestations; artifact reported on trail t1",
		},
		{
			name: "the latest compliant trail is chosen", flow: junitOnly,
			trails: []*domain.TrailFacts{
				trailFacts("t1", "f1", app, fact("a1", "junit", "PASSED")),
				trailFacts("t2", "f1", app, fact("a2", "junit", "PASSED")),
				trailFacts("t3", "f1", app, fact("a3", "junit", "FAILED")),
			},
			status: domain.TrailCompliant, trailID: "t2",
			details: "All required attestations passed on trail t2",
		},
		{
			name: "no compliant trail: the one with fewest open slots", flow: svc,
			trails: []*domain.TrailFacts{
				trailFacts("t1", "f1", app, fact("a1", "junit", "PASSED")),
				trailFacts("t2", "f1", app),
				trailFacts("t3", "f1", app, fact("a3", "junit", "FAILED")),
			},
			status: domain.TrailNonCompliant, missing: []string{"snyk"}, trailID: "t1",
			details: "Missing required attestations: snyk (trail t1)",
		},
		{
			name: "equally open trails: the latest", flow: svc,
			trails: []*domain.TrailFacts{
				trailFacts("t1", "f1", app, fact("a1", "junit", "PASSED")),
				trailFacts("t2", "f1", app, fact("a2", "snyk", "PASSED")),
			},
			status: domain.TrailNonCompliant, missing: []string{"junit"}, trailID: "t2",
			details: "Missing required attestations: junit (trail t2)",
		},
		{
			name: "an attestation bound to another artifact does not count", flow: svc,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both,
				namedFact("a1", "", "junit", "PASSED", digestB), fact("a2", "snyk", "PASSED"))},
			status: domain.TrailNonCompliant, missing: []string{"junit"}, trailID: "t1",
			details:  "Missing required attestations: junit (trail t1)",
			outcomes: map[string]string{"junit": domain.SlotMissing, "snyk": domain.SlotSatisfied},
			reasons:  map[string]string{"junit": "bound to a different artifact (" + digestB + ")"},
		},
		{
			name: "an attestation bound to the asserted artifact counts", flow: svc, digest: digestB,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both,
				namedFact("a1", "", "junit", "PASSED", digestB), fact("a2", "snyk", "PASSED"))},
			status: domain.TrailCompliant, trailID: "t1",
			details: "All required attestations passed on trail t1",
		},
		{
			name: "a later failure bound elsewhere leaves the earlier unbound pass", flow: junitOnly,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both,
				fact("a1", "junit", "PASSED"), namedFact("a2", "", "junit", "FAILED", digestB))},
			status: domain.TrailCompliant, trailID: "t1",
			details: "All required attestations passed on trail t1",
		},
	})
}

func TestAssertUnreported(t *testing.T) {
	t.Parallel()
	svc := &domain.Flow{ID: "f1", Name: "svc", RequiredAttestationTypes: []string{"junit", "snyk"}}
	none := &domain.Flow{ID: "f1", Name: "svc"}
	tmpl := &domain.Flow{ID: "f1", Name: "svc", TemplateYAML: ptr("trail:\n  attestations:\n    - {name: jira}\n")}
	noneFound := "No artifacts found with digest " + digestA + " in flow svc"
	elsewhere := []*domain.TrailFacts{trailFacts("t9", "f2", []domain.ArtifactFact{artApp}, fact("a9", "junit", "PASSED"))}
	runAssertCases(t, []assertCase{
		{
			name: "no trail: every required type is missing", flow: svc,
			status: domain.TrailNonCompliant, missing: []string{"junit", "snyk"}, details: noneFound,
			outcomes: map[string]string{"junit": domain.SlotMissing, "snyk": domain.SlotMissing},
			reasons:  map[string]string{"junit": "not reported on any trail of this flow"},
		},
		{
			name: "trails of other flows are named, never counted", flow: svc, elsewhere: elsewhere,
			status: domain.TrailNonCompliant, missing: []string{"junit", "snyk"},
			details:  noneFound + " (it was reported on 1 trail(s) of other flows, which do not count)",
			outcomes: map[string]string{"junit": domain.SlotMissing, "snyk": domain.SlotMissing},
			reasons: map[string]string{
				"junit": "present only on trail t9 of another flow (f2), which does not count",
				"snyk":  "not reported on any trail of this flow",
			},
		},
		{
			name: "no trail and nothing required is still not compliant", flow: none,
			status: domain.TrailNonCompliant, details: noneFound,
		},
		{
			name: "no trail in template mode: the template's names are missing", flow: tmpl,
			status: domain.TrailNonCompliant, missing: []string{"jira"}, details: noneFound,
		},
	})
}

func TestAssertTemplate(t *testing.T) {
	t.Parallel()
	const tmpl = `
version: 1
trail:
  attestations:
    - {name: jira, type: jira}
    - {name: review}
    - {name: prod-gate, if: 'flow.tags.env == "prod"'}
  artifacts:
    - name: app
      attestations:
        - {name: unit, type: junit}
`
	flow := func(env string) *domain.Flow {
		return &domain.Flow{ID: "f1", Name: "svc", Tags: map[string]string{"env": env}, TemplateYAML: ptr(tmpl),
			RequiredAttestationTypes: []string{"snyk"}}
	}
	dev := flow("dev")
	shaky := &domain.Flow{ID: "f1", Name: "svc", TemplateYAML: ptr("trail:\n  attestations:\n    - {name: jira}\n    - {name: shaky, if: flow.tags.missing}\n")}
	both := []domain.ArtifactFact{artApp, artLib}
	jira := namedFact("a1", "jira", "jira", "PASSED", "")
	review := namedFact("a2", "review", "generic", "PASSED", "")
	unit := namedFact("a3", "unit", "junit", "PASSED", "")
	withOwn := func(tr *domain.TrailFacts, yaml string) *domain.TrailFacts {
		tr.Trail.TemplateYAML = ptr(yaml)
		return tr
	}
	runAssertCases(t, []assertCase{
		{
			name: "slots filled by name, any type for '*', legacy types ignored", flow: dev,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both, jira, review, unit)},
			status: domain.TrailCompliant, trailID: "t1",
			details:  "All required attestations passed on trail t1",
			outcomes: map[string]string{"jira": domain.SlotSatisfied, "review": domain.SlotSatisfied, "unit": domain.SlotSatisfied},
		},
		{
			name: "a slot with a type needs that type", flow: dev,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both, jira, review,
				namedFact("a3", "unit", "generic", "PASSED", ""), namedFact("a4", "ticket", "jira", "PASSED", ""))},
			status: domain.TrailNonCompliant, missing: []string{"unit"}, trailID: "t1",
			details: "Missing required attestations: unit (trail t1)",
			reasons: map[string]string{"unit": `no "unit" (artifact app) attestation recorded`},
		},
		{
			name: "an unnamed attestation of the right type fills no slot", flow: dev,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both, fact("a1", "jira", "PASSED"), review, unit)},
			status: domain.TrailNonCompliant, missing: []string{"jira"}, trailID: "t1",
			details: "Missing required attestations: jira (trail t1)",
		},
		{
			name: "failures are reported by name", flow: dev,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both, jira, review, unit, namedFact("a4", "jira", "jira", "FAILED", ""))},
			status: domain.TrailNonCompliant, failed: []string{"jira"}, trailID: "t1",
			details: "Failed attestations: jira (trail t1)",
		},
		{
			name: "artifact-level slots apply to the artifact of that name only", flow: dev, digest: digestB,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both, jira, review)},
			status: domain.TrailCompliant, trailID: "t1",
			details: "All required attestations passed on trail t1",
		},
		{
			name: "artifact-level slots apply to the asserted artifact", flow: dev,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both, jira, review)},
			status: domain.TrailNonCompliant, missing: []string{"unit"}, trailID: "t1",
			details: "Missing required attestations: unit (trail t1)",
		},
		{
			name: "an artifact-level attestation bound to the other artifact does not count", flow: dev,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both, jira, review, namedFact("a3", "unit", "junit", "PASSED", digestB))},
			status: domain.TrailNonCompliant, missing: []string{"unit"}, trailID: "t1",
			details: "Missing required attestations: unit (trail t1)",
			reasons: map[string]string{"unit": "bound to a different artifact (" + digestB + ")"},
		},
		{
			name: "an if: that holds brings its slot in", flow: flow("prod"),
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both, jira, review, unit)},
			status: domain.TrailNonCompliant, missing: []string{"prod-gate"}, trailID: "t1",
			details: "Missing required attestations: prod-gate (trail t1)",
		},
		{
			name: "an if: that fails to evaluate is reported and its slot stays required", flow: shaky,
			trails: []*domain.TrailFacts{trailFacts("t1", "f1", both, jira)},
			status: domain.TrailNonCompliant, missing: []string{"shaky"}, trailID: "t1",
			details:  "Missing required attestations: shaky (trail t1)",
			tmplErrs: []string{`trail attestation "shaky": if: result is null, not a boolean at 1`},
		},
		{
			name: "the trail's template overrides the flow's", flow: dev,
			trails: []*domain.TrailFacts{withOwn(trailFacts("t1", "f1", both, namedFact("a1", "smoke", "generic", "PASSED", "")),
				"trail:\n  attestations:\n    - {name: smoke}\n")},
			status: domain.TrailCompliant, trailID: "t1",
			details: "All required attestations passed on trail t1",
		},
		{
			name: "the trail's template is what is missing", flow: dev,
			trails: []*domain.TrailFacts{withOwn(trailFacts("t1", "f1", both, jira, review, unit),
				"trail:\n  attestations:\n    - {name: smoke}\n")},
			status: domain.TrailNonCompliant, missing: []string{"smoke"}, trailID: "t1",
			details: "Missing required attestations: smoke (trail t1)",
		},
	})
}

func TestResolveCIContext(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"GITHUB_SHA": "gh-sha", "GITHUB_REF_NAME": "gh-branch",
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "42",
		"CI_COMMIT_SHA": "gl-sha", "CI_COMMIT_REF_NAME": "gl-branch", "CI_JOB_URL": "https://gitlab.example/job/7",
		"GIT_COMMIT": "jk-sha", "GIT_BRANCH": "jk-branch", "BUILD_URL": "https://jenkins.example/job/9/",
		"CIRCLE_SHA1": "cc-sha", "CIRCLE_BRANCH": "cc-branch", "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/shop/3",
		"BUILD_SOURCEVERSION": "az-sha", "BUILD_SOURCEBRANCH": "refs/heads/az-branch",
		"SYSTEM_TEAMFOUNDATIONCOLLECTIONURI": "https://dev.azure.com/acme/", "SYSTEM_TEAMPROJECT": "shop", "BUILD_BUILDID": "77",
	}
	without := func(keys ...string) map[string]string {
		m := make(map[string]string, len(env))
		for k, v := range env {
			m[k] = v
		}
		for _, k := range keys {
			delete(m, k)
		}
		return m
	}
	github := domain.CIValues{GitCommitSha: "gh-sha", GitBranch: "gh-branch", BuildURL: "https://github.com/acme/shop/actions/runs/42"}
	gitlab := domain.CIValues{GitCommitSha: "gl-sha", GitBranch: "gl-branch", BuildURL: "https://gitlab.example/job/7"}
	circle := domain.CIValues{GitCommitSha: "cc-sha", GitBranch: "cc-branch", BuildURL: "https://circleci.com/gh/acme/shop/3"}
	azure := domain.CIValues{GitCommitSha: "az-sha", GitBranch: "refs/heads/az-branch", BuildURL: "https://dev.azure.com/acme/shop/_build/results?buildId=77"}
	tests := []struct {
		name     string
		provider string
		env      map[string]string
		want     domain.CIValues
		ok       bool
	}{
		{"github-actions", "github-actions", env, github, true},
		{"github_actions", "github_actions", env, github, true},
		{"case and spaces ignored", " GitHub-Actions ", env, github, true},
		{"github without a run id has no build url", "github-actions", without("GITHUB_RUN_ID"), domain.CIValues{GitCommitSha: "gh-sha", GitBranch: "gh-branch"}, true},
		{"gitlab-ci", "gitlab-ci", env, gitlab, true},
		{"gitlab_ci", "GITLAB_CI", env, gitlab, true},
		{"jenkins", "jenkins", env, domain.CIValues{GitCommitSha: "jk-sha", GitBranch: "jk-branch", BuildURL: "https://jenkins.example/job/9/"}, true},
		{"circleci", "circleci", env, circle, true},
		{"circle-ci", "circle-ci", env, circle, true},
		{"azure-devops", "azure-devops", env, azure, true},
		{"azure_devops", "azure_devops", env, azure, true},
		{"azure without a project has no build url", "azure-devops", without("SYSTEM_TEAMPROJECT"), domain.CIValues{GitCommitSha: "az-sha", GitBranch: "refs/heads/az-branch"}, true},
		{"a provider with nothing set", "jenkins", map[string]string{}, domain.CIValues{}, true},
		{"unknown provider", "travis", env, domain.CIValues{}, false},
		{"no provider", "", env, domain.CIValues{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := domain.ResolveCIContext(tc.provider, func(k string) string { return tc.env[k] })
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFillFromCI(t *testing.T) {
	t.Parallel()
	ci := domain.CIValues{GitCommitSha: "ci-sha", GitBranch: "ci-branch", BuildURL: "https://ci.example/1"}
	tests := []struct {
		name   string
		fields domain.TrailFields
		ci     domain.CIValues
		sha    *string
		branch *string
		url    *string
	}{
		{"absent fields are filled", domain.TrailFields{}, ci, ptr("ci-sha"), ptr("ci-branch"), ptr("https://ci.example/1")},
		{"empty fields count as absent", domain.TrailFields{GitCommitSha: ptr(""), BuildURL: ptr("")}, ci, ptr("ci-sha"), ptr("ci-branch"), ptr("https://ci.example/1")},
		{"given fields are kept",
			domain.TrailFields{GitCommitSha: ptr("mine"), GitBranch: ptr("feature"), BuildURL: ptr("https://mine/2")}, ci,
			ptr("mine"), ptr("feature"), ptr("https://mine/2")},
		{"only the absent one is filled", domain.TrailFields{GitCommitSha: ptr("mine"), GitBranch: ptr("feature")}, ci,
			ptr("mine"), ptr("feature"), ptr("https://ci.example/1")},
		{"empty CI values fill nothing", domain.TrailFields{GitBranch: ptr("feature")}, domain.CIValues{GitCommitSha: "ci-sha"},
			ptr("ci-sha"), ptr("feature"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tc.fields
			f.FlowID, f.GitAuthor = "f1", ptr("dev")
			f.FillFromCI(tc.ci)
			assert.Equal(t, tc.sha, f.GitCommitSha)
			assert.Equal(t, tc.branch, f.GitBranch)
			assert.Equal(t, tc.url, f.BuildURL)
			assert.Equal(t, "f1", f.FlowID)
			assert.Equal(t, ptr("dev"), f.GitAuthor)
			assert.Nil(t, f.Name)
		})
	}

	// A trail whose commit and branch come only from CI can begin.
	f := domain.TrailFields{FlowID: "f1", GitAuthor: ptr("dev"), GitAuthorEmail: ptr("dev@example.com")}
	_, err := domain.BeginTrail{ID: "t1", Fields: f}.Build(now)
	var fe *domain.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "gitCommitSha", fe.Field)
	f.FillFromCI(ci)
	tr, err := domain.BeginTrail{ID: "t1", Fields: f}.Build(now)
	require.NoError(t, err)
	assert.Equal(t, "ci-sha", tr.GitCommitSha)
	assert.Equal(t, "ci-branch", tr.GitBranch)
	assert.Equal(t, ptr("https://ci.example/1"), tr.BuildURL)
}

// A requirement and the attestation meant to fill it are sent as the same
// string. The attestation and artifact sides are trimmed, so an untrimmed
// requirement could never be met: the flow must refuse it or match it.
func TestRequirementMatchesWhatClientsSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		flow domain.FlowFields
		cmds []domain.Command
	}{
		{
			name: "required type with a trailing space",
			flow: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit "}},
			cmds: []domain.Command{attest("a1", "t1", "junit ", domain.AttestationPassed)},
		},
		{
			name: "template slot name with a leading space",
			flow: domain.FlowFields{Name: ptr("svc"), TemplateYAML: ptr("trail:\n  attestations:\n    - {name: ' unit'}\n")},
			cmds: []domain.Command{attestNamed("a1", "t1", " unit", "junit", domain.AttestationPassed, "")},
		},
		{
			name: "template slot type with a trailing space",
			flow: domain.FlowFields{Name: ptr("svc"), TemplateYAML: ptr("trail:\n  attestations:\n    - {name: unit, type: 'junit '}\n")},
			cmds: []domain.Command{attestNamed("a1", "t1", "unit", "junit ", domain.AttestationPassed, "")},
		},
		{
			name: "template artifact name with a trailing space",
			flow: domain.FlowFields{Name: ptr("svc"), TemplateYAML: ptr("artifacts:\n  - name: 'app '\n    attestations:\n      - {name: unit}\n")},
			cmds: []domain.Command{report("art1", "t1", "app ", digestA), attestNamed("a1", "t1", "unit", "junit", domain.AttestationPassed, digestA)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := domain.NewState()
			evts, err := domain.CreateFlow{ID: "f1", Fields: tc.flow}.Decide(s, now)
			if err != nil {
				require.ErrorIs(t, err, domain.ErrInvalid, "refusing the requirement is one way to be right")
				return
			}
			for _, e := range evts {
				s.ApplyEvent(e)
			}
			apply(t, s, beginTrail("t1", "f1", ""))
			for _, c := range tc.cmds {
				apply(t, s, c)
			}
			assert.Equal(t, domain.TrailCompliant, trailStatus(t, s, "t1"), "the requirement, as sent, can never be met")
		})
	}
}
