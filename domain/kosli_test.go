package domain_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/domain"
)

// kosliBackendTemplate is a Kosli v1 flow template with one artifact slot.
const kosliBackendTemplate = `version: 1
trail:
  artifacts:
    - name: backend
      attestations:
        - name: unit-test
          type: junit
`

// kosliOrgs returns a state with the organisations acme and other.
func kosliOrgs(t *testing.T) *domain.State {
	t.Helper()
	s := domain.NewState()
	for _, slug := range []string{"acme", "other"} {
		apply(t, s, domain.CreateOrganisation{ID: "org-" + slug, Slug: slug, Fields: domain.OrganisationFields{Name: ptr(strings.ToUpper(slug))}})
	}
	return s
}

func kosliTrail(id, org, flow, name string) domain.SaveTrailByName {
	return domain.SaveTrailByName{ID: id, Org: org, FlowName: flow, Fields: domain.TrailFields{Name: ptr(name)}}
}

func kosliArtifact(id, org, flow, trail, image, templateName, digest string) domain.ReportArtifactByName {
	f := domain.ArtifactFields{ImageName: ptr(image), Sha256Digest: ptr(digest), TagOptional: true}
	if templateName != "" {
		f.TemplateName = ptr(templateName)
	}
	return domain.ReportArtifactByName{Org: org, FlowName: flow, Trail: trail, Report: domain.ReportArtifact{ID: id, Actor: "kosli", Fields: f}}
}

func kosliAttest(id, org, flow, trail, name, typ, status string, targets ...string) domain.RecordAttestationByName {
	return domain.RecordAttestationByName{Org: org, FlowName: flow, Trail: trail, Record: domain.RecordAttestation{ID: id,
		Fields: domain.AttestationFields{Name: ptr(name), Type: ptr(typ), Status: ptr(status), TargetArtifacts: targets}}}
}

func eventTypes(evts []domain.Event) []string {
	out := []string{}
	for _, e := range evts {
		out = append(out, e.Type)
	}
	return out
}

func TestSaveFlowByName(t *testing.T) {
	t.Parallel()
	s := kosliOrgs(t)
	flow := func(typ, id, org, description string, required []string) func(t *testing.T, evts []domain.Event) {
		t.Helper()
		return func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.NotEmpty(t, evts)
			assert.Equal(t, typ, evts[0].Type)
			assert.Equal(t, org, evts[0].Org)
			assert.Equal(t, id, evts[0].AggregateID)
			f := envPayload[domain.Flow](t, evts[0])
			assert.Equal(t, id, f.ID)
			assert.Equal(t, "svc", f.Name)
			assert.Equal(t, ptr(org), f.OrgSlug)
			assert.Equal(t, description, f.Description)
			assert.Equal(t, required, f.RequiredAttestationTypes)
		}
	}
	runEnvSteps(t, s, []envStep{
		{name: "an unknown org", cmd: domain.SaveFlowByName{ID: "f1", Org: "nope", Name: "svc"}, err: domain.ErrNotFound},
		{name: "no name", cmd: domain.SaveFlowByName{ID: "f1", Org: "acme", Name: " "}, err: domain.ErrInvalid},
		{name: "a bad template", cmd: domain.SaveFlowByName{ID: "f1", Org: "acme", Name: "svc", TemplateYAML: ptr("trail: [")}, err: domain.ErrInvalid},
		{name: "create", cmd: domain.SaveFlowByName{ID: "f1", Org: "acme", Name: "svc", Description: ptr("first"), RequiredTypes: []string{" junit "}},
			check: flow(domain.EventFlowCreated, "f1", "acme", "first", []string{"junit"})},
		{name: "a trail of it", cmd: kosliTrail("t1", "acme", "svc", "build-1"), check: func(t *testing.T, evts []domain.Event) {
			t.Helper()
			assert.Equal(t, domain.TrailPending, envPayload[domain.Trail](t, evts[0]).Status)
		}},
		{name: "update keeps the id", cmd: domain.SaveFlowByName{ID: "f2", Org: "acme", Name: "svc", Description: ptr("second")},
			check: flow(domain.EventFlowUpdated, "f1", "acme", "second", []string{"junit"})},
		{name: "update by the trimmed name", cmd: domain.SaveFlowByName{ID: "f3", Org: "acme", Name: " svc ", RequiredTypes: []string{}},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				flow(domain.EventFlowUpdated, "f1", "acme", "second", []string{})(t, evts)
				assert.Equal(t, []string{"t1: PENDING -> COMPLIANT (flow requirements changed)"}, statusChanges(t, evts))
			}},
		{name: "the same name in another org is another flow", cmd: domain.SaveFlowByName{ID: "f4", Org: "other", Name: "svc"},
			check: flow(domain.EventFlowCreated, "f4", "other", "", []string{})},
		{name: "update with a bad template", cmd: domain.SaveFlowByName{ID: "f5", Org: "acme", Name: "svc", TemplateYAML: ptr("trail: [")}, err: domain.ErrInvalid},
		{name: "update with a template", cmd: domain.SaveFlowByName{ID: "f5", Org: "acme", Name: "svc", TemplateYAML: ptr(kosliBackendTemplate)},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				assert.Equal(t, ptr(kosliBackendTemplate), envPayload[domain.Flow](t, evts[0]).TemplateYAML)
				assert.Equal(t, []string{"t1: COMPLIANT -> PENDING (flow requirements changed)"}, statusChanges(t, evts))
			}},
	})
	f, ok := s.Flow("f1")
	require.True(t, ok)
	assert.Equal(t, "second", f.Description)
	_, ok = s.Flow("f2")
	assert.False(t, ok, "an update creates no flow")
}

func TestSaveTrailByName(t *testing.T) {
	t.Parallel()
	s := kosliOrgs(t)
	apply(t, s, domain.SaveFlowByName{ID: "f1", Org: "acme", Name: "svc"})
	apply(t, s, domain.SaveFlowByName{ID: "f2", Org: "other", Name: "svc"})
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	first := domain.SaveTrailByName{ID: "t1", Org: "acme", FlowName: "svc", Fields: domain.TrailFields{
		Name: ptr(" build-1 "), Description: ptr("first run"),
		Extra: map[string]json.RawMessage{"user_data": raw(`{"a":1}`), "origin_url": raw(`"https://ci/1"`)},
	}}
	var started *domain.Trail
	runEnvSteps(t, s, []envStep{
		{name: "an unknown org", cmd: kosliTrail("t1", "nope", "svc", "build-1"), err: domain.ErrNotFound},
		{name: "an unknown flow", cmd: kosliTrail("t1", "acme", "web", "build-1"), err: domain.ErrNotFound},
		{name: "no name", cmd: domain.SaveTrailByName{ID: "t1", Org: "acme", FlowName: "svc"}, err: domain.ErrInvalid},
		{name: "a blank name", cmd: kosliTrail("t1", "acme", "svc", "  "), err: domain.ErrInvalid},
		{name: "begin without git fields", cmd: first, check: func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, domain.EventTrailStarted, evts[0].Type)
			assert.Equal(t, "acme", evts[0].Org)
			started = envPayload[domain.Trail](t, evts[0])
			assert.Equal(t, "t1", started.ID)
			assert.Equal(t, "f1", started.FlowID)
			assert.Equal(t, "build-1", started.Name)
			assert.Equal(t, ptr("acme"), started.OrgSlug)
			assert.Empty(t, started.GitCommitSha)
			assert.Empty(t, started.GitAuthorEmail)
			assert.Equal(t, domain.TrailCompliant, started.Status, "the flow requires nothing")
			assert.Equal(t, ptr("first run"), started.Description)
		}},
		{name: "merge: description kept, extra merged, git fields set", cmd: domain.SaveTrailByName{ID: "t9", Org: "acme", FlowName: "svc", Fields: domain.TrailFields{
			Name: ptr("build-1"), GitCommitSha: ptr(" 0a1b2c "), GitBranch: ptr(""), BuildURL: ptr("https://ci/1/build"),
			Extra: map[string]json.RawMessage{"user_data": raw(`{"b":2}`), "repo_info": raw(`{"name":"svc"}`)},
		}}, check: func(t *testing.T, evts []domain.Event) {
			t.Helper()
			assert.Equal(t, []string{domain.EventTrailUpdated}, eventTypes(evts))
			assert.Equal(t, "t1", evts[0].AggregateID)
			tr := envPayload[domain.Trail](t, evts[0])
			assert.Equal(t, "t1", tr.ID)
			assert.Equal(t, "build-1", tr.Name)
			assert.Equal(t, ptr("first run"), tr.Description)
			assert.Equal(t, "0a1b2c", tr.GitCommitSha)
			assert.Empty(t, tr.GitBranch)
			assert.Equal(t, ptr("https://ci/1/build"), tr.BuildURL)
			assert.Equal(t, map[string]json.RawMessage{
				"user_data": raw(`{"b":2}`), "repo_info": raw(`{"name":"svc"}`), "origin_url": raw(`"https://ci/1"`),
			}, tr.Extra)
			assert.Equal(t, domain.TrailCompliant, tr.Status)
			assert.Equal(t, now, tr.CreatedAt)
			assert.Len(t, started.Extra, 2, "the started trail's extra is not changed")
		}},
		{name: "merge: empty git fields keep theirs, a new description replaces", cmd: domain.SaveTrailByName{ID: "t9", Org: "acme", FlowName: "svc", Fields: domain.TrailFields{
			Name: ptr("build-1"), GitCommitSha: ptr(""), Description: ptr("second run"),
		}}, check: func(t *testing.T, evts []domain.Event) {
			t.Helper()
			tr := envPayload[domain.Trail](t, evts[0])
			assert.Equal(t, "0a1b2c", tr.GitCommitSha)
			assert.Equal(t, ptr("second run"), tr.Description)
			assert.Len(t, tr.Extra, 3)
		}},
		{name: "the trail's id addresses it too", cmd: domain.SaveTrailByName{ID: "t9", Org: "acme", FlowName: "svc", Fields: domain.TrailFields{
			Name: ptr("t1"), GitBranch: ptr("main"),
		}}, check: func(t *testing.T, evts []domain.Event) {
			t.Helper()
			assert.Equal(t, []string{domain.EventTrailUpdated}, eventTypes(evts))
			tr := envPayload[domain.Trail](t, evts[0])
			assert.Equal(t, "t1", tr.ID)
			assert.Equal(t, "build-1", tr.Name)
			assert.Equal(t, "main", tr.GitBranch)
		}},
		{name: "another org's flow of the same name has its own trails", cmd: kosliTrail("t2", "other", "svc", "build-1"), check: func(t *testing.T, evts []domain.Event) {
			t.Helper()
			assert.Equal(t, []string{domain.EventTrailStarted}, eventTypes(evts))
			tr := envPayload[domain.Trail](t, evts[0])
			assert.Equal(t, "f2", tr.FlowID)
			assert.Equal(t, "other", evts[0].Org)
		}},
		{name: "a trail id of another flow is a new trail's name", cmd: kosliTrail("t3", "acme", "svc", "t2"), check: func(t *testing.T, evts []domain.Event) {
			t.Helper()
			assert.Equal(t, []string{domain.EventTrailStarted}, eventTypes(evts))
			assert.Equal(t, "t2", envPayload[domain.Trail](t, evts[0]).Name)
		}},
		{name: "a git author email that is not an address", cmd: domain.SaveTrailByName{ID: "t4", Org: "acme", FlowName: "svc", Fields: domain.TrailFields{
			Name: ptr("build-2"), GitAuthorEmail: ptr("nobody"),
		}}, err: domain.ErrInvalid},
	})
	id, err := s.ResolveTrail("acme", "svc", "build-1")
	require.NoError(t, err)
	assert.Equal(t, "t1", id)
	tr, ok := s.Trail("t1")
	require.True(t, ok)
	assert.Equal(t, "main", tr.GitBranch)
	assert.Equal(t, ptr("second run"), tr.Description)
}

// An update through SaveTrailByName must validate what it sets as
// beginning the trail does.
func TestSaveTrailByNameValidatesUpdates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fields domain.TrailFields
		field  string
	}{
		{"long description", domain.TrailFields{Description: ptr(strings.Repeat("d", domain.MaxDescLen+1))}, "description"},
		{"long commit sha", domain.TrailFields{GitCommitSha: ptr(strings.Repeat("a", domain.MaxShortLen+1))}, "gitCommitSha"},
		{"long branch", domain.TrailFields{GitBranch: ptr(strings.Repeat("b", domain.MaxShortLen+1))}, "gitBranch"},
		{"author email that is not an address", domain.TrailFields{GitAuthorEmail: ptr("not an email")}, "gitAuthorEmail"},
		{"long build url", domain.TrailFields{BuildURL: ptr("https://ci/" + strings.Repeat("u", domain.MaxURLLen))}, "buildUrl"},
		{"bad template", domain.TrailFields{TemplateYAML: ptr("trail: [")}, "templateYaml"},
	}
	for _, tc := range tests {
		for _, existing := range []bool{false, true} {
			name := tc.name + " on begin"
			if existing {
				name = tc.name + " on update"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				s := kosliOrgs(t)
				apply(t, s, domain.SaveFlowByName{ID: "f1", Org: "acme", Name: "svc"})
				if existing {
					apply(t, s, kosliTrail("t1", "acme", "svc", "build-1"))
				}
				f := tc.fields
				f.Name = ptr("build-1")
				evts, err := domain.SaveTrailByName{ID: "t2", Org: "acme", FlowName: "svc", Fields: f}.Decide(s, now)
				require.ErrorIs(t, err, domain.ErrInvalid, "got events %v", eventTypes(evts))
				var fe *domain.FieldError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tc.field, fe.Field)
				assert.Empty(t, evts)
			})
		}
	}
}

func TestSaveTrailByNameTemplateRecomputesStatus(t *testing.T) {
	t.Parallel()
	s := kosliOrgs(t)
	apply(t, s, domain.SaveFlowByName{ID: "f1", Org: "acme", Name: "svc"})
	withTemplate := func(tmpl string) domain.SaveTrailByName {
		c := kosliTrail("t9", "acme", "svc", "build-1")
		c.Fields.TemplateYAML = ptr(tmpl)
		return c
	}
	tests := []struct {
		name    string
		cmd     domain.Command
		types   []string
		changes []string
		status  string
	}{
		{"begin: nothing required", kosliTrail("t1", "acme", "svc", "build-1"), []string{domain.EventTrailStarted}, nil, domain.TrailCompliant},
		{"a template with an artifact slot", withTemplate(kosliBackendTemplate),
			[]string{domain.EventTrailUpdated, domain.EventTrailStatusChanged}, []string{"t1: COMPLIANT -> PENDING (trail updated)"}, domain.TrailPending},
		{"the same template again appends nothing", withTemplate(kosliBackendTemplate), []string{}, nil, domain.TrailPending},
		{"an empty template appends nothing", withTemplate(""), []string{}, nil, domain.TrailPending},
		{"the slot filled", kosliAttest("a1", "acme", "svc", "build-1", "unit-test", "junit", domain.AttestationPassed, "backend"),
			[]string{domain.EventAttestationRecorded, domain.EventTrailStatusChanged}, []string{"t1: PENDING -> COMPLIANT (junit attestation PASSED)"}, domain.TrailCompliant},
		{"a template requiring more", withTemplate("trail:\n  attestations:\n    - {name: review}\n"),
			[]string{domain.EventTrailUpdated, domain.EventTrailStatusChanged}, []string{"t1: COMPLIANT -> PENDING (trail updated)"}, domain.TrailPending},
		{"a template requiring nothing", withTemplate("version: 1\n"),
			[]string{domain.EventTrailUpdated, domain.EventTrailStatusChanged}, []string{"t1: PENDING -> COMPLIANT (trail updated)"}, domain.TrailCompliant},
	}
	for _, tc := range tests {
		evts := apply(t, s, tc.cmd)
		assert.Equal(t, tc.types, eventTypes(evts), tc.name)
		assert.Equal(t, tc.changes, statusChanges(t, evts), tc.name)
		assert.Equal(t, tc.status, trailStatus(t, s, "t1"), tc.name)
	}
}

func TestByNameResolution(t *testing.T) {
	t.Parallel()
	fixture := func(t *testing.T) *domain.State {
		t.Helper()
		s := kosliOrgs(t)
		apply(t, s, domain.SaveFlowByName{ID: "f1", Org: "acme", Name: "svc"})
		apply(t, s, domain.SaveFlowByName{ID: "f2", Org: "acme", Name: "web"})
		apply(t, s, domain.SaveFlowByName{ID: "f3", Org: "other", Name: "svc"})
		apply(t, s, kosliTrail("t1", "acme", "svc", "build-1"))
		apply(t, s, kosliTrail("t2", "acme", "web", "web-1"))
		apply(t, s, kosliTrail("t3", "other", "svc", "build-2"))
		return s
	}
	art := func(org, flow, trail string) domain.Command {
		return kosliArtifact("art1", org, flow, trail, "app", "", digestA)
	}
	att := func(org, flow, trail string) domain.Command {
		return kosliAttest("att1", org, flow, trail, "unit", "junit", domain.AttestationPassed)
	}
	tests := []struct {
		name string
		cmd  domain.Command
		err  error
		// trail is the trail the events are about when err is nil.
		trail string
	}{
		{"artifact by trail name", art("acme", "svc", "build-1"), nil, "t1"},
		{"artifact by trail id", art("acme", "svc", "t1"), nil, "t1"},
		{"artifact: unknown org", art("nope", "svc", "build-1"), domain.ErrNotFound, ""},
		{"artifact: unknown flow", art("acme", "api", "build-1"), domain.ErrNotFound, ""},
		{"artifact: unknown trail", art("acme", "svc", "build-9"), domain.ErrNotFound, ""},
		{"artifact: a trail of another flow by name", art("acme", "svc", "web-1"), domain.ErrNotFound, ""},
		{"artifact: a trail of another flow by id", art("acme", "svc", "t2"), domain.ErrNotFound, ""},
		{"artifact: a trail of another org's flow of the same name", art("acme", "svc", "build-2"), domain.ErrNotFound, ""},
		{"artifact: an invalid report", domain.ReportArtifactByName{Org: "acme", FlowName: "svc", Trail: "build-1",
			Report: domain.ReportArtifact{ID: "art1", Fields: domain.ArtifactFields{ImageName: ptr("app"), TagOptional: true}}}, domain.ErrInvalid, ""},
		{"attestation by trail name", att("acme", "svc", "build-1"), nil, "t1"},
		{"attestation by trail id", att("other", "svc", "t3"), nil, "t3"},
		{"attestation: unknown org", att("nope", "svc", "build-1"), domain.ErrNotFound, ""},
		{"attestation: unknown flow", att("acme", "api", "build-1"), domain.ErrNotFound, ""},
		{"attestation: unknown trail", att("acme", "svc", "build-9"), domain.ErrNotFound, ""},
		{"attestation: a trail of another org's flow", att("other", "svc", "build-1"), domain.ErrNotFound, ""},
		{"attestation: bound to a digest the trail did not report", domain.RecordAttestationByName{Org: "acme", FlowName: "svc", Trail: "build-1",
			Record: domain.RecordAttestation{ID: "att1", Fields: domain.AttestationFields{Type: ptr("junit"), ArtifactFingerprint: ptr(digestB)}}}, domain.ErrInvalid, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := fixture(t)
			evts, err := tc.cmd.Decide(s, now)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Empty(t, evts)
				return
			}
			require.NoError(t, err)
			require.NotEmpty(t, evts)
			assert.Equal(t, tc.trail, evts[0].AggregateID)
			switch d := evts[0].Data.(type) {
			case *domain.Artifact:
				assert.Equal(t, tc.trail, d.TrailID)
				assert.Equal(t, digestA, d.Sha256Digest)
			case *domain.Attestation:
				assert.Equal(t, tc.trail, d.TrailID)
			default:
				t.Fatalf("unexpected payload %T", d)
			}
		})
	}
}

// An attestation with target_artifacts fills the template slot of the
// artifact reported under that template name.
func TestTargetArtifactsFillTemplateSlot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                        string
		flowTemplate, trailTemplate string
		image, templateName         string
		attName, attType, attStatus string
		targets                     []string
		want                        string
	}{
		{name: "flow template, target backend", flowTemplate: kosliBackendTemplate, image: "registry.example/backend", templateName: "backend",
			attName: "unit-test", attType: "junit", attStatus: domain.AttestationPassed, targets: []string{"backend"}, want: domain.TrailCompliant},
		{name: "trail template, target backend", trailTemplate: kosliBackendTemplate, image: "registry.example/backend", templateName: "backend",
			attName: "unit-test", attType: "junit", attStatus: domain.AttestationPassed, targets: []string{"backend"}, want: domain.TrailCompliant},
		{name: "the artifact matched by its image name", flowTemplate: kosliBackendTemplate, image: "backend",
			attName: "unit-test", attType: "junit", attStatus: domain.AttestationPassed, targets: []string{"backend"}, want: domain.TrailCompliant},
		{name: "several targets", flowTemplate: kosliBackendTemplate, image: "img", templateName: "backend",
			attName: "unit-test", attType: "junit", attStatus: domain.AttestationPassed, targets: []string{"frontend", " backend "}, want: domain.TrailCompliant},
		{name: "a failing suite", flowTemplate: kosliBackendTemplate, image: "img", templateName: "backend",
			attName: "unit-test", attType: "junit", attStatus: domain.AttestationFailed, targets: []string{"backend"}, want: domain.TrailNonCompliant},
		{name: "another artifact's slot", flowTemplate: kosliBackendTemplate, image: "img", templateName: "backend",
			attName: "unit-test", attType: "junit", attStatus: domain.AttestationPassed, targets: []string{"frontend"}, want: domain.TrailPending},
		{name: "the wrong type", flowTemplate: kosliBackendTemplate, image: "img", templateName: "backend",
			attName: "unit-test", attType: "snyk", attStatus: domain.AttestationPassed, targets: []string{"backend"}, want: domain.TrailPending},
		{name: "the wrong name", flowTemplate: kosliBackendTemplate, image: "img", templateName: "backend",
			attName: "integration-test", attType: "junit", attStatus: domain.AttestationPassed, targets: []string{"backend"}, want: domain.TrailPending},
		{name: "the template name wins over the image name", flowTemplate: kosliBackendTemplate, image: "backend", templateName: "frontend",
			attName: "unit-test", attType: "junit", attStatus: domain.AttestationPassed, targets: []string{"frontend"}, want: domain.TrailPending},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := kosliOrgs(t)
			flow := domain.SaveFlowByName{ID: "f1", Org: "acme", Name: "backend-ci"}
			if tc.flowTemplate != "" {
				flow.TemplateYAML = ptr(tc.flowTemplate)
			}
			apply(t, s, flow)
			trail := kosliTrail("t1", "acme", "backend-ci", "build-1")
			if tc.trailTemplate != "" {
				trail.Fields.TemplateYAML = ptr(tc.trailTemplate)
			}
			apply(t, s, trail)
			assert.Equal(t, domain.TrailPending, trailStatus(t, s, "t1"), "the slot is required from the start")
			apply(t, s, kosliArtifact("art1", "acme", "backend-ci", "build-1", tc.image, tc.templateName, digestA))
			assert.Equal(t, domain.TrailPending, trailStatus(t, s, "t1"))
			evts := apply(t, s, kosliAttest("att1", "acme", "backend-ci", "build-1", tc.attName, tc.attType, tc.attStatus, tc.targets...))
			assert.Equal(t, tc.want, trailStatus(t, s, "t1"))
			a := envPayload[domain.Attestation](t, evts[0])
			assert.Nil(t, a.ArtifactFingerprint)
			for i := range tc.targets {
				assert.Equal(t, strings.TrimSpace(tc.targets[i]), a.TargetArtifacts[i])
			}
		})
	}
}

func TestSaveEnvironmentByName(t *testing.T) {
	t.Parallel()
	s := kosliOrgs(t)
	save := func(id, org string, name, typ, policy *string) domain.SaveEnvironmentByName {
		return domain.SaveEnvironmentByName{ID: id, Org: org, Fields: domain.EnvironmentFields{Name: name, Type: typ, DriftPolicy: policy}}
	}
	env := func(typ, id, org, envType, policy string) func(t *testing.T, evts []domain.Event) {
		t.Helper()
		return func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, typ, evts[0].Type)
			assert.Equal(t, org, evts[0].Org)
			e := envPayload[domain.Environment](t, evts[0])
			assert.Equal(t, id, e.ID)
			assert.Equal(t, "prod", e.Name)
			assert.Equal(t, ptr(org), e.OrgSlug)
			assert.Equal(t, envType, e.Type)
			assert.Equal(t, policy, e.DriftPolicy)
		}
	}
	runEnvSteps(t, s, []envStep{
		{name: "an unknown org", cmd: save("e1", "nope", ptr("prod"), ptr("K8S"), nil), err: domain.ErrNotFound},
		{name: "no name", cmd: save("e1", "acme", nil, ptr("K8S"), nil), err: domain.ErrInvalid},
		{name: "create without a type", cmd: save("e1", "acme", ptr("prod"), nil, nil), err: domain.ErrInvalid},
		{name: "create", cmd: save("e1", "acme", ptr("prod"), ptr("k8s"), nil), check: env(domain.EventEnvironmentCreated, "e1", "acme", "K8S", "WARN")},
		{name: "update keeps the id and the type", cmd: save("e2", "acme", ptr("prod"), nil, ptr("BLOCK")),
			check: env(domain.EventEnvironmentUpdated, "e1", "acme", "K8S", "BLOCK")},
		{name: "update by the trimmed name", cmd: save("e3", "acme", ptr(" prod "), ptr("server"), nil),
			check: env(domain.EventEnvironmentUpdated, "e1", "acme", "SERVER", "BLOCK")},
		{name: "update with a bad type", cmd: save("e3", "acme", ptr("prod"), ptr("VM"), nil), err: domain.ErrInvalid},
		{name: "the org given in the fields is the org of the path", cmd: domain.SaveEnvironmentByName{ID: "e4", Org: "other",
			Fields: domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("S3"), OrgSlug: ptr("acme")}},
			check: env(domain.EventEnvironmentCreated, "e4", "other", "S3", "WARN")},
	})
	id, ok := s.EnvironmentByName("acme", "prod")
	assert.True(t, ok)
	assert.Equal(t, "e1", id)
	id, ok = s.EnvironmentByName("other", "prod")
	assert.True(t, ok)
	assert.Equal(t, "e4", id)
	_, ok = s.EnvironmentByName("acme", "staging")
	assert.False(t, ok)
}

func TestSaveLogicalByName(t *testing.T) {
	t.Parallel()
	s := kosliOrgs(t)
	apply(t, s, envCreate("e1", "acme", "prod-eu", "K8S"))
	apply(t, s, envCreate("e2", "acme", "prod-us", "K8S"))
	apply(t, s, envCreate("e3", "other", "prod-ap", "K8S"))
	save := func(id, org, name string, description *string, included ...string) domain.SaveLogicalByName {
		return domain.SaveLogicalByName{ID: id, Org: org, Name: name, Description: description, Included: included}
	}
	logical := func(typ, id, description string, members ...string) func(t *testing.T, evts []domain.Event) {
		t.Helper()
		return func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, typ, evts[0].Type)
			assert.Equal(t, &domain.LogicalEnvironment{ID: id, Name: "production", Description: description,
				Members: orNone(members), OrgSlug: ptr("acme"), CreatedAt: now, UpdatedAt: now}, evts[0].Data)
		}
	}
	runEnvSteps(t, s, []envStep{
		{name: "an unknown org", cmd: save("l1", "nope", "production", nil, "prod-eu"), err: domain.ErrNotFound},
		{name: "a blank name", cmd: save("l1", "acme", " ", nil), err: domain.ErrInvalid},
		{name: "an unknown environment", cmd: save("l1", "acme", "production", nil, "prod-eu", "prod-xx"), err: domain.ErrNotFound},
		{name: "another org's environment", cmd: save("l1", "acme", "production", nil, "prod-ap"), err: domain.ErrNotFound},
		{name: "create", cmd: save("l1", "acme", " production ", ptr("all regions"), "prod-us", "prod-eu"),
			check: logical(domain.EventLogicalCreated, "l1", "all regions", "e2", "e1")},
		{name: "update replaces the members, keeps the description", cmd: save("l2", "acme", "production", nil, "prod-us"),
			check: logical(domain.EventLogicalUpdated, "l1", "all regions", "e2")},
		{name: "update with a description", cmd: save("l3", "acme", "production", ptr("us only"), "prod-us"),
			check: logical(domain.EventLogicalUpdated, "l1", "us only", "e2")},
		{name: "no included environments", cmd: save("l4", "acme", "production", nil),
			check: logical(domain.EventLogicalUpdated, "l1", "us only")},
	})
	l, ok := s.LogicalByName("production")
	require.True(t, ok)
	assert.Equal(t, "l1", l.ID)
	assert.Equal(t, []string{}, l.Members)
	_, ok = s.LogicalByName("staging")
	assert.False(t, ok)
}

// SaveLogicalByName must keep the invariants SetLogicalMember and
// SaveLogicalEnvironment keep.
func TestSaveLogicalByNameInvariants(t *testing.T) {
	t.Parallel()
	t.Run("an environment is a member once", func(t *testing.T) {
		t.Parallel()
		s := kosliOrgs(t)
		apply(t, s, envCreate("e1", "acme", "prod-eu", "K8S"))
		evts, err := domain.SaveLogicalByName{ID: "l1", Org: "acme", Name: "production", Included: []string{"prod-eu", "prod-eu"}}.Decide(s, now)
		require.NoError(t, err)
		require.Len(t, evts, 1)
		assert.Equal(t, []string{"e1"}, envPayload[domain.LogicalEnvironment](t, evts[0]).Members)
	})
	t.Run("the description is at most MaxDescLen", func(t *testing.T) {
		t.Parallel()
		s := kosliOrgs(t)
		evts, err := domain.SaveLogicalByName{ID: "l1", Org: "acme", Name: "production", Description: ptr(strings.Repeat("d", domain.MaxDescLen+1))}.Decide(s, now)
		require.ErrorIs(t, err, domain.ErrInvalid)
		assert.Empty(t, evts)
	})
}

func TestRecordSnapshotByName(t *testing.T) {
	t.Parallel()
	s := kosliOrgs(t)
	apply(t, s, envCreate("e1", "acme", "prod", "K8S"))
	apply(t, s, envCreate("e2", "other", "staging", "K8S"))
	snap := func(org, env string) domain.RecordSnapshotByName {
		return domain.RecordSnapshotByName{Org: org, Environment: env, Snapshot: envSnap("s", "ignored", envArt("api", envSha("a")))}
	}
	index := func(env string, want int) func(t *testing.T, evts []domain.Event) {
		t.Helper()
		return func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, env, evts[0].AggregateID)
			sn := envPayload[domain.Snapshot](t, evts[0])
			assert.Equal(t, env, sn.EnvironmentID)
			assert.Equal(t, want, sn.SnapshotIndex)
		}
	}
	runEnvSteps(t, s, []envStep{
		{name: "an unknown org", cmd: snap("nope", "prod"), err: domain.ErrNotFound},
		{name: "an unknown environment", cmd: snap("acme", "qa"), err: domain.ErrNotFound},
		{name: "another org's environment", cmd: snap("acme", "staging"), err: domain.ErrNotFound},
		{name: "the environment's id is not its name", cmd: snap("acme", "e1"), err: domain.ErrNotFound},
		{name: "first", cmd: snap("acme", "prod"), check: index("e1", 1)},
		{name: "second", cmd: snap("acme", "prod"), check: index("e1", 2)},
		{name: "other org", cmd: snap("other", "staging"), check: index("e2", 1)},
		{name: "an invalid report", cmd: domain.RecordSnapshotByName{Org: "acme", Environment: "prod",
			Snapshot: envSnap("s", "", envArt("api", "nope"))}, err: domain.ErrInvalid},
	})
}

func TestSavePolicy(t *testing.T) {
	t.Parallel()
	s := kosliOrgs(t)
	save := func(id, org, name string) domain.SavePolicy {
		return domain.SavePolicy{ID: id, Policy: domain.Policy{Org: org, Name: name, YAML: "_schema: https://kosli.com/schemas/policy/environment/v1\n", Comment: id}}
	}
	policy := func(id, org string, version int) func(t *testing.T, evts []domain.Event) {
		t.Helper()
		return func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, domain.EventPolicySaved, evts[0].Type)
			assert.Equal(t, domain.AggregatePolicy, evts[0].Aggregate)
			assert.Equal(t, id, evts[0].AggregateID)
			assert.Equal(t, org, evts[0].Org)
			p := envPayload[domain.Policy](t, evts[0])
			assert.Equal(t, id, p.ID)
			assert.Equal(t, "prod-policy", p.Name)
			assert.Equal(t, version, p.Version)
			assert.Equal(t, "env", p.Type)
			assert.Equal(t, now, p.CreatedAt)
		}
	}
	runEnvSteps(t, s, []envStep{
		{name: "an unknown org", cmd: save("p1", "nope", "prod-policy"), err: domain.ErrNotFound},
		{name: "a blank name", cmd: save("p1", "acme", " "), err: domain.ErrInvalid},
		{name: "a policy file over the limit", cmd: domain.SavePolicy{ID: "p1", Policy: domain.Policy{Org: "acme", Name: "prod-policy",
			YAML: strings.Repeat("#", 256*1024+1)}}, err: domain.ErrInvalid},
		{name: "version 1", cmd: save("p1", "acme", "prod-policy"), check: policy("p1", "acme", 1)},
		{name: "version 2 keeps the id", cmd: save("p2", "acme", "prod-policy"), check: policy("p1", "acme", 2)},
		{name: "version 3 by the trimmed name", cmd: save("p3", "acme", " prod-policy "), check: policy("p1", "acme", 3)},
		{name: "another org's policy of the same name", cmd: save("p4", "other", "prod-policy"), check: policy("p4", "other", 1)},
		{name: "a given type is kept", cmd: domain.SavePolicy{ID: "p5", Policy: domain.Policy{Org: "acme", Name: "typed", Type: "custom"}},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				assert.Equal(t, "custom", envPayload[domain.Policy](t, evts[0]).Type)
			}},
	})
}

func TestAttachPolicies(t *testing.T) {
	t.Parallel()
	s := kosliOrgs(t)
	apply(t, s, envCreate("e1", "acme", "prod", "K8S"))
	apply(t, s, envCreate("e2", "other", "prod", "K8S"))
	for _, c := range []domain.SavePolicy{
		{ID: "pa", Policy: domain.Policy{Org: "acme", Name: "p-a"}},
		{ID: "pb", Policy: domain.Policy{Org: "acme", Name: "p-b"}},
		{ID: "pc", Policy: domain.Policy{Org: "other", Name: "p-c"}},
	} {
		apply(t, s, c)
	}
	attach := func(env string, detach bool, names ...string) domain.AttachPolicies {
		return domain.AttachPolicies{Org: "acme", Environment: env, Names: names, Detach: detach}
	}
	attached := func(typ string, changed []string, policies ...string) func(t *testing.T, evts []domain.Event) {
		t.Helper()
		return func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, typ, evts[0].Type)
			assert.Equal(t, "acme", evts[0].Org)
			assert.Equal(t, domain.AggregateEnvironment, evts[0].Aggregate)
			assert.Equal(t, "e1", evts[0].AggregateID)
			assert.Equal(t, &domain.PoliciesAttached{EnvironmentID: "e1", Changed: changed, Policies: orNone(policies)}, evts[0].Data)
		}
	}
	runEnvSteps(t, s, []envStep{
		{name: "an unknown org", cmd: domain.AttachPolicies{Org: "nope", Environment: "prod", Names: []string{"p-a"}}, err: domain.ErrNotFound},
		{name: "an unknown environment", cmd: attach("qa", false, "p-a"), err: domain.ErrNotFound},
		{name: "no names", cmd: attach("prod", false), err: domain.ErrInvalid},
		{name: "an unknown policy", cmd: attach("prod", false, "p-a", "p-x"), err: domain.ErrNotFound},
		{name: "another org's policy", cmd: attach("prod", false, "p-c"), err: domain.ErrNotFound},
		{name: "attach p-a", cmd: attach("prod", false, "p-a"), check: attached(domain.EventPoliciesAttached, []string{"p-a"}, "p-a")},
		{name: "attach p-a twice and p-b", cmd: attach("prod", false, "p-a", "p-b", "p-b"),
			check: attached(domain.EventPoliciesAttached, []string{"p-a", "p-b", "p-b"}, "p-a", "p-b")},
		{name: "attach p-a again", cmd: attach("prod", false, "p-a"), check: attached(domain.EventPoliciesAttached, []string{"p-a"}, "p-a", "p-b")},
		{name: "detach an unknown policy", cmd: attach("prod", true, "p-x"), err: domain.ErrNotFound},
		{name: "detach p-a", cmd: attach("prod", true, "p-a"), check: attached(domain.EventPoliciesDetached, []string{"p-a"}, "p-b")},
		{name: "detach p-a again", cmd: attach("prod", true, "p-a"), check: attached(domain.EventPoliciesDetached, []string{"p-a"}, "p-b")},
		{name: "detach p-b", cmd: attach("prod", true, "p-b"), check: attached(domain.EventPoliciesDetached, []string{"p-b"})},
		{name: "the other org's environment of the same name", cmd: domain.AttachPolicies{Org: "other", Environment: "prod", Names: []string{"p-c"}},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				assert.Equal(t, &domain.PoliciesAttached{EnvironmentID: "e2", Changed: []string{"p-c"}, Policies: []string{"p-c"}}, evts[0].Data)
			}},
	})
}

func TestSaveAttestationType(t *testing.T) {
	t.Parallel()
	s := kosliOrgs(t)
	save := func(org, name string) domain.SaveAttestationType {
		return domain.SaveAttestationType{Type: domain.AttestationType{Org: org, Name: name, Definition: json.RawMessage(`{"name":"` + name + `"}`), Version: 42}}
	}
	version := func(org, name string, want int) func(t *testing.T, evts []domain.Event) {
		t.Helper()
		return func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, domain.EventAttestationTypeSaved, evts[0].Type)
			assert.Equal(t, domain.AggregateAttestationType, evts[0].Aggregate)
			assert.Equal(t, org+"/"+name, evts[0].AggregateID)
			assert.Equal(t, org, evts[0].Org)
			at := envPayload[domain.AttestationType](t, evts[0])
			assert.Equal(t, want, at.Version)
			assert.Equal(t, now, at.CreatedAt)
			assert.JSONEq(t, `{"name":"`+name+`"}`, string(at.Definition))
		}
	}
	runEnvSteps(t, s, []envStep{
		{name: "an unknown org", cmd: save("nope", "coverage"), err: domain.ErrNotFound},
		{name: "a blank name", cmd: save("acme", " "), err: domain.ErrInvalid},
		{name: "a definition over the limit", cmd: domain.SaveAttestationType{Type: domain.AttestationType{Org: "acme", Name: "big",
			Definition: json.RawMessage(`"` + strings.Repeat("x", 256*1024) + `"`)}}, err: domain.ErrInvalid},
		{name: "version 1", cmd: save("acme", "coverage"), check: version("acme", "coverage", 1)},
		{name: "version 2", cmd: save("acme", "coverage"), check: version("acme", "coverage", 2)},
		{name: "another name", cmd: save("acme", "perf"), check: version("acme", "perf", 1)},
		{name: "another org", cmd: save("other", "coverage"), check: version("other", "coverage", 1)},
		{name: "version 3", cmd: save("acme", "coverage"), check: version("acme", "coverage", 3)},
	})
}

// Replaying stored events of the Kosli door (Apply of their JSON) decides
// as folding the decided events does.
func TestKosliApplyFromStoredEvents(t *testing.T) {
	t.Parallel()
	history := []domain.Command{
		domain.CreateOrganisation{ID: "o1", Slug: "acme", Fields: domain.OrganisationFields{Name: ptr("Acme")}},
		domain.SaveFlowByName{ID: "f1", Org: "acme", Name: "svc", TemplateYAML: ptr(kosliBackendTemplate)},
		domain.SaveFlowByName{ID: "fx", Org: "acme", Name: "svc", Description: ptr("updated")},
		domain.SaveTrailByName{ID: "t1", Org: "acme", FlowName: "svc", Fields: domain.TrailFields{Name: ptr("build-1"), Description: ptr("first"),
			Extra: map[string]json.RawMessage{"user_data": json.RawMessage(`{"a":1}`)}}},
		domain.SaveTrailByName{ID: "tx", Org: "acme", FlowName: "svc", Fields: domain.TrailFields{Name: ptr("build-1"), GitCommitSha: ptr("abc"),
			Extra: map[string]json.RawMessage{"repo_info": json.RawMessage(`{"name":"svc"}`)}}},
		kosliArtifact("art1", "acme", "svc", "build-1", "img", "backend", digestA),
		domain.SaveEnvironmentByName{ID: "e1", Org: "acme", Fields: domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("K8S")}},
		domain.SaveEnvironmentByName{ID: "ex", Org: "acme", Fields: domain.EnvironmentFields{Name: ptr("prod"), DriftPolicy: ptr("BLOCK")}},
		domain.RecordSnapshotByName{Org: "acme", Environment: "prod", Snapshot: envSnap("s1", "", envArt("api", envSha("a")))},
		domain.SaveLogicalByName{ID: "l1", Org: "acme", Name: "production", Included: []string{"prod"}},
		domain.SavePolicy{ID: "p1", Policy: domain.Policy{Org: "acme", Name: "prod-policy"}},
		domain.SavePolicy{ID: "p2", Policy: domain.Policy{Org: "acme", Name: "prod-policy"}},
		domain.SavePolicy{ID: "p3", Policy: domain.Policy{Org: "acme", Name: "other-policy"}},
		domain.AttachPolicies{Org: "acme", Environment: "prod", Names: []string{"prod-policy", "other-policy"}},
		domain.AttachPolicies{Org: "acme", Environment: "prod", Names: []string{"other-policy"}, Detach: true},
		domain.SaveAttestationType{Type: domain.AttestationType{Org: "acme", Name: "coverage", Definition: json.RawMessage(`{}`)}},
		domain.SaveAttestationType{Type: domain.AttestationType{Org: "acme", Name: "coverage"}},
	}
	decided, replayed := domain.NewState(), domain.NewState()
	seq := uint64(0)
	for _, c := range history {
		recordInto(t, replayed, &seq, apply(t, decided, c))
	}
	want, ok := decided.Trail("t1")
	require.True(t, ok)
	got, ok := replayed.Trail("t1")
	require.True(t, ok)
	assert.Equal(t, want, got)

	runReplayProbes(t, decided, replayed, []replayProbe{
		{name: "the flow is updated, not created", cmd: domain.SaveFlowByName{ID: "fy", Org: "acme", Name: "svc", RequiredTypes: []string{"junit"}},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				assert.Equal(t, domain.EventFlowUpdated, evts[0].Type)
				f := envPayload[domain.Flow](t, evts[0])
				assert.Equal(t, "f1", f.ID)
				assert.Equal(t, "updated", f.Description)
			}},
		{name: "the trail merges with the replayed fields", cmd: domain.SaveTrailByName{ID: "ty", Org: "acme", FlowName: "svc", Fields: domain.TrailFields{
			Name: ptr("build-1"), Extra: map[string]json.RawMessage{"origin_url": json.RawMessage(`"x"`)}}},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				tr := envPayload[domain.Trail](t, evts[0])
				assert.Equal(t, "t1", tr.ID)
				assert.Equal(t, ptr("first"), tr.Description)
				assert.Equal(t, "abc", tr.GitCommitSha)
				assert.Len(t, tr.Extra, 3)
			}},
		{name: "the replayed template name binds the target", cmd: kosliAttest("a1", "acme", "svc", "build-1", "unit-test", "junit", domain.AttestationPassed, "backend"),
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				assert.Equal(t, []string{"t1: PENDING -> COMPLIANT (junit attestation PASSED)"}, statusChanges(t, evts))
			}},
		{name: "the environment is updated", cmd: domain.SaveEnvironmentByName{ID: "ey", Org: "acme", Fields: domain.EnvironmentFields{Name: ptr("prod"), Description: ptr("live")}},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				e := envPayload[domain.Environment](t, evts[0])
				assert.Equal(t, "e1", e.ID)
				assert.Equal(t, "BLOCK", e.DriftPolicy)
				assert.Equal(t, "live", e.Description)
			}},
		{name: "an unchanged environment appends nothing", cmd: domain.SaveEnvironmentByName{ID: "ez", Org: "acme", Fields: domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("K8S")}},
			check: func(t *testing.T, evts []domain.Event) { t.Helper(); assert.Empty(t, evts) }},
		{name: "an unchanged logical environment appends nothing", cmd: domain.SaveLogicalByName{ID: "lz", Org: "acme", Name: "production", Included: []string{"prod"}},
			check: func(t *testing.T, evts []domain.Event) { t.Helper(); assert.Empty(t, evts) }},
		{name: "an unchanged trail appends nothing", cmd: domain.SaveTrailByName{ID: "tz", Org: "acme", FlowName: "svc", Fields: domain.TrailFields{
			Name: ptr("build-1"), GitCommitSha: ptr("abc"), Extra: map[string]json.RawMessage{"repo_info": json.RawMessage(`{"name":"svc"}`)}}},
			check: func(t *testing.T, evts []domain.Event) { t.Helper(); assert.Empty(t, evts) }},
		{name: "an unchanged flow appends nothing", cmd: domain.SaveFlowByName{ID: "fz", Org: "acme", Name: "svc", Description: ptr("updated"), TemplateYAML: ptr(kosliBackendTemplate)},
			check: func(t *testing.T, evts []domain.Event) { t.Helper(); assert.Empty(t, evts) }},
		{name: "the next snapshot index", cmd: domain.RecordSnapshotByName{Org: "acme", Environment: "prod", Snapshot: envSkip("s2", "", envArt("api", envSha("b")))},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				assert.Equal(t, 2, envPayload[domain.Snapshot](t, evts[0]).SnapshotIndex)
			}},
		{name: "an unchanged snapshot is skipped", cmd: domain.RecordSnapshotByName{Org: "acme", Environment: "prod", Snapshot: envSkip("s3", "", envArt("api", envSha("b")))},
			check: func(t *testing.T, evts []domain.Event) { t.Helper(); assert.Empty(t, evts) }},
		{name: "the logical environment is updated", cmd: domain.SaveLogicalByName{ID: "ly", Org: "acme", Name: "production"},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				assert.Equal(t, domain.EventLogicalUpdated, evts[0].Type)
				assert.Equal(t, "l1", evts[0].AggregateID)
			}},
		{name: "the policy's next version", cmd: domain.SavePolicy{ID: "p9", Policy: domain.Policy{Org: "acme", Name: "prod-policy"}},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				p := envPayload[domain.Policy](t, evts[0])
				assert.Equal(t, "p1", p.ID)
				assert.Equal(t, 3, p.Version)
			}},
		{name: "the attached policies", cmd: domain.AttachPolicies{Org: "acme", Environment: "prod", Names: []string{"other-policy"}},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				assert.Equal(t, []string{"prod-policy", "other-policy"}, envPayload[domain.PoliciesAttached](t, evts[0]).Policies)
			}},
		{name: "the attestation type's next version", cmd: domain.SaveAttestationType{Type: domain.AttestationType{Org: "acme", Name: "coverage"}},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				assert.Equal(t, 3, envPayload[domain.AttestationType](t, evts[0]).Version)
			}},
	})
	require.Error(t, replayed.Apply(domain.Recorded{Type: domain.EventPolicySaved, Data: []byte(`{"version": "1"}`)}))
	require.Error(t, replayed.Apply(domain.Recorded{Type: domain.EventAttestationTypeSaved, Data: []byte(`[]`)}))
}
