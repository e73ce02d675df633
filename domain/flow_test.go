package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
)

func ptr[T any](v T) *T { return &v }

var now = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// apply decides cmd and folds its events into s, as the writer does.
func apply(t *testing.T, s *domain.State, cmd domain.Command) []domain.Event {
	t.Helper()
	evts, err := cmd.Decide(s, now)
	require.NoError(t, err)
	for _, e := range evts {
		s.ApplyEvent(e)
	}
	return evts
}

func TestCreateFlowValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fields domain.FlowFields
		field  string
	}{
		{"missing name", domain.FlowFields{}, "name"},
		{"blank name", domain.FlowFields{Name: ptr("  ")}, "name"},
		{"long name", domain.FlowFields{Name: ptr(strings.Repeat("x", 256))}, "name"},
		{"bad yaml", domain.FlowFields{Name: ptr("a"), TemplateYAML: ptr("a: [")}, "templateYaml"},
		{"bad slug", domain.FlowFields{Name: ptr("a"), OrgSlug: ptr("-bad")}, "orgSlug"},
		{"empty tag key", domain.FlowFields{Name: ptr("a"), Tags: map[string]string{"": "v"}}, "tags"},
		{"long tag value", domain.FlowFields{Name: ptr("a"), Tags: map[string]string{"k": strings.Repeat("v", 257)}}, "tags"},
		{"blank required type", domain.FlowFields{Name: ptr("a"), RequiredAttestationTypes: []string{" "}}, "requiredAttestationTypes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evts, err := domain.CreateFlow{ID: "f1", Fields: tc.fields}.Decide(domain.NewState(), now)
			require.ErrorIs(t, err, domain.ErrInvalid)
			var fe *domain.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.field, fe.Field)
			assert.Empty(t, evts)
		})
	}
}

func TestFlowDecisions(t *testing.T) {
	t.Parallel()
	s := domain.NewState()
	evts := apply(t, s, domain.CreateFlow{ID: "f1", Fields: domain.FlowFields{Name: ptr("svc"), RequiredAttestationTypes: []string{"junit"}}})
	require.Len(t, evts, 1)
	assert.Equal(t, domain.EventFlowCreated, evts[0].Type)
	assert.Equal(t, domain.NoOrg, evts[0].Org)
	f := evts[0].Data.(*domain.Flow)
	assert.Equal(t, now, f.CreatedAt)
	assert.Equal(t, map[string]string{}, f.Tags)

	_, err := domain.CreateFlow{ID: "f2", Fields: domain.FlowFields{Name: ptr("svc")}}.Decide(s, now)
	require.ErrorIs(t, err, domain.ErrConflict)
	_, err = domain.CreateFlow{ID: "f2", Fields: domain.FlowFields{Name: ptr("svc"), OrgSlug: ptr("acme")}}.Decide(s, now)
	require.NoError(t, err, "names are unique within an org, not across orgs")

	later := now.Add(time.Minute)
	upd, err := domain.UpdateFlow{ID: "f1", Fields: domain.FlowFields{Description: ptr("d")}}.Decide(s, later)
	require.NoError(t, err)
	uf := upd[0].Data.(*domain.Flow)
	assert.Equal(t, "svc", uf.Name)
	assert.Equal(t, []string{"junit"}, uf.RequiredAttestationTypes)
	assert.Equal(t, now, uf.CreatedAt)
	assert.Equal(t, later, uf.UpdatedAt)

	_, err = domain.UpdateFlow{ID: "nope", Fields: domain.FlowFields{}}.Decide(s, now)
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = domain.DeleteFlow{ID: "nope"}.Decide(s, now)
	require.ErrorIs(t, err, domain.ErrNotFound)

	apply(t, s, domain.DeleteFlow{ID: "f1"})
	_, ok := s.Flow("f1")
	assert.False(t, ok)
	apply(t, s, domain.CreateFlow{ID: "f3", Fields: domain.FlowFields{Name: ptr("svc")}})
}

// A batch the stream refused is rolled back: state is as before the batch.
func TestStateRollback(t *testing.T) {
	t.Parallel()
	s := domain.NewState()
	apply(t, s, domain.CreateFlow{ID: "f1", Fields: domain.FlowFields{Name: ptr("kept")}})
	s.Commit()
	mark := s.Mark()
	apply(t, s, domain.CreateFlow{ID: "f2", Fields: domain.FlowFields{Name: ptr("dropped")}})
	apply(t, s, domain.UpdateFlow{ID: "f1", Fields: domain.FlowFields{Name: ptr("renamed")}})
	apply(t, s, domain.DeleteFlow{ID: "f2"})
	s.Rollback(mark)
	f, ok := s.Flow("f1")
	require.True(t, ok)
	assert.Equal(t, "kept", f.Name)
	_, ok = s.Flow("f2")
	assert.False(t, ok)
	_, err := domain.CreateFlow{ID: "f4", Fields: domain.FlowFields{Name: ptr("renamed")}}.Decide(s, now)
	require.NoError(t, err, "the rolled-back rename no longer holds the name")
	_, err = domain.CreateFlow{ID: "f4", Fields: domain.FlowFields{Name: ptr("kept")}}.Decide(s, now)
	require.ErrorIs(t, err, domain.ErrConflict)
}

// Replaying stored events (Apply) gives the same state as deciding them.
func TestApplyFromStoredEvents(t *testing.T) {
	t.Parallel()
	decided := domain.NewState()
	replayed := domain.NewState()
	cmds := []domain.Command{
		domain.CreateFlow{ID: "a", Fields: domain.FlowFields{Name: ptr("one")}},
		domain.CreateFlow{ID: "b", Fields: domain.FlowFields{Name: ptr("two")}},
		domain.UpdateFlow{ID: "a", Fields: domain.FlowFields{Name: ptr("uno")}},
		domain.DeleteFlow{ID: "b"},
	}
	for i, c := range cmds {
		for _, e := range apply(t, decided, c) {
			data, err := json.Marshal(e.Data)
			require.NoError(t, err)
			require.NoError(t, replayed.Apply(domain.Recorded{Seq: uint64(i + 1), Type: e.Type, Data: data}))
		}
	}
	a, ok := replayed.Flow("a")
	require.True(t, ok)
	assert.Equal(t, "uno", a.Name)
	_, ok = replayed.Flow("b")
	assert.False(t, ok)
	_, err := domain.CreateFlow{ID: "c", Fields: domain.FlowFields{Name: ptr("uno")}}.Decide(replayed, now)
	require.ErrorIs(t, err, domain.ErrConflict)
	require.Error(t, replayed.Apply(domain.Recorded{Type: domain.EventFlowCreated, Data: []byte("{bad")}))
	require.NoError(t, replayed.Apply(domain.Recorded{Type: "something.new", Data: []byte("{}")}), "unknown types are ignored")
}

func TestAuditEventType(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"flow.created":         "FLOW_CREATED",
		"trail.started":        "TRAIL_STARTED",
		"artifact.reported":    "ARTIFACT_DEPLOYED",
		"attestation.recorded": "ATTESTATION_RECORDED",
	}
	for in, want := range tests {
		assert.Equal(t, want, domain.AuditEventType(in, nil), in)
	}
	assert.Equal(t, "GATE_ALLOWED", domain.AuditEventType("compliance.asserted", []byte(`{"compliant":true}`)))
	assert.Equal(t, "GATE_BLOCKED", domain.AuditEventType("compliance.asserted", []byte(`{"compliant":false}`)))
	assert.ErrorIs(t, domain.NotFound("flow", "x"), domain.ErrNotFound)
}

// TestUpdatesThatChangeNothingDecideNoEvents: an update that leaves a
// resource as it is appends nothing (pipelines re-apply their definitions
// on every run); one that changes a field is one event.
func TestUpdatesThatChangeNothingDecideNoEvents(t *testing.T) {
	s := domain.NewState()
	apply(t, s, domain.CreateOrganisation{ID: "o1", Slug: "acme", Fields: domain.OrganisationFields{Name: ptr("Acme"), Description: ptr("d")}})
	apply(t, s, domain.CreateFlow{ID: "f1", Fields: domain.FlowFields{Name: ptr("svc"), Description: ptr("d"),
		RequiredAttestationTypes: []string{"junit"}, OrgSlug: ptr("acme")}})
	apply(t, s, domain.CreateEnvironment{ID: "e1", Fields: domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("K8S"), OrgSlug: ptr("acme")}})
	cases := []struct {
		name    string
		cmd     domain.Command
		changes bool
	}{
		{"flow, no fields", domain.UpdateFlow{ID: "f1"}, false},
		{"flow, the same fields", domain.UpdateFlow{ID: "f1", Fields: domain.FlowFields{Name: ptr(" svc "), Description: ptr("d"),
			RequiredAttestationTypes: []string{"junit"}, OrgSlug: ptr("acme")}}, false},
		{"flow, another description", domain.UpdateFlow{ID: "f1", Fields: domain.FlowFields{Description: ptr("e")}}, true},
		{"flow, another required type", domain.UpdateFlow{ID: "f1", Fields: domain.FlowFields{RequiredAttestationTypes: []string{"snyk"}}}, true},
		{"organisation, the same name", domain.UpdateOrganisation{Slug: "acme", Fields: domain.OrganisationFields{Name: ptr("Acme")}}, false},
		{"organisation, another description", domain.UpdateOrganisation{Slug: "acme", Fields: domain.OrganisationFields{Description: ptr("e")}}, true},
		{"environment, the same type", domain.UpdateEnvironment{ID: "e1", Fields: domain.EnvironmentFields{Type: ptr("K8S")}}, false},
		{"environment, another type", domain.UpdateEnvironment{ID: "e1", Fields: domain.EnvironmentFields{Type: ptr("ECS")}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evts, err := tc.cmd.Decide(s, now.Add(time.Hour))
			require.NoError(t, err)
			if tc.changes {
				assert.Len(t, evts, 1)
			} else {
				assert.Empty(t, evts)
			}
		})
	}
}
