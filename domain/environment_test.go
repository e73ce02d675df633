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

// envSha is a canonical digest made of one repeated hex digit.
func envSha(hexDigit string) string { return "sha256:" + strings.Repeat(hexDigit, 64) }

// envCreate defines environment id named name of type typ in org ("" for none).
func envCreate(id, org, name, typ string) domain.CreateEnvironment {
	return domain.CreateEnvironment{ID: id, Fields: domain.EnvironmentFields{Name: ptr(name), Type: ptr(typ), OrgSlug: ptr(org)}}
}

func envArt(name, digest string) domain.SnapshotArtifact {
	return domain.SnapshotArtifact{ArtifactName: name, ArtifactSha256: digest, ArtifactTag: "1.0"}
}

func envSnap(id, envID string, arts ...domain.SnapshotArtifact) domain.RecordSnapshot {
	return domain.RecordSnapshot{ID: id, EnvironmentID: envID, RecordedBy: ptr("reporter"), Artifacts: arts}
}

func envSkip(id, envID string, arts ...domain.SnapshotArtifact) domain.RecordSnapshot {
	c := envSnap(id, envID, arts...)
	c.SkipUnchanged = true
	return c
}

// envPayload returns the payload of e as a *T.
func envPayload[T any](t *testing.T, e domain.Event) *T {
	t.Helper()
	d, ok := e.Data.(*T)
	require.True(t, ok, "payload of %s is %T", e.Type, e.Data)
	return d
}

// envDecide applies cmd, requires exactly one event and returns its payload.
func envDecide[T any](t *testing.T, s *domain.State, cmd domain.Command) *T {
	t.Helper()
	evts := apply(t, s, cmd)
	require.Len(t, evts, 1)
	return envPayload[T](t, evts[0])
}

// envStep is one command of a sequence: its error, or a check of its events.
type envStep struct {
	name  string
	cmd   domain.Command
	err   error
	check func(t *testing.T, evts []domain.Event)
}

// runEnvSteps decides each step on s in order and folds the events of
// those that succeed.
func runEnvSteps(t *testing.T, s *domain.State, steps []envStep) {
	t.Helper()
	for _, st := range steps {
		evts, err := st.cmd.Decide(s, now)
		if st.err != nil {
			require.ErrorIs(t, err, st.err, st.name)
			assert.Empty(t, evts, st.name)
			continue
		}
		require.NoError(t, err, st.name)
		if st.check != nil {
			t.Run(st.name, func(t *testing.T) { st.check(t, evts) })
		}
		for _, e := range evts {
			s.ApplyEvent(e)
		}
	}
}

func artNames(arts []domain.SnapshotArtifact) []string {
	out := []string{}
	for _, a := range arts {
		out = append(out, a.ArtifactName)
	}
	return out
}

func driftNames(entries []domain.DriftEntry) []string {
	out := []string{}
	for _, e := range entries {
		out = append(out, e.ArtifactName)
	}
	return out
}

func TestCreateEnvironmentValidation(t *testing.T) {
	t.Parallel()
	fields := func(mod func(f *domain.EnvironmentFields)) domain.EnvironmentFields {
		f := domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("K8S")}
		mod(&f)
		return f
	}
	withScope := func(sc domain.Scope) domain.EnvironmentFields {
		return fields(func(f *domain.EnvironmentFields) { f.Scope = &sc })
	}
	tests := []struct {
		name   string
		fields domain.EnvironmentFields
		field  string
	}{
		{"missing name", fields(func(f *domain.EnvironmentFields) { f.Name = nil }), "name"},
		{"blank name", fields(func(f *domain.EnvironmentFields) { f.Name = ptr("  ") }), "name"},
		{"long name", fields(func(f *domain.EnvironmentFields) { f.Name = ptr(strings.Repeat("n", 256)) }), "name"},
		{"missing type", fields(func(f *domain.EnvironmentFields) { f.Type = nil }), "type"},
		{"unknown type", fields(func(f *domain.EnvironmentFields) { f.Type = ptr("VM") }), "type"},
		{"blank type", fields(func(f *domain.EnvironmentFields) { f.Type = ptr("") }), "type"},
		{"unknown drift policy", fields(func(f *domain.EnvironmentFields) { f.DriftPolicy = ptr("LOUD") }), "driftPolicy"},
		{"long description", fields(func(f *domain.EnvironmentFields) { f.Description = ptr(strings.Repeat("d", 4097)) }), "description"},
		{"bad org slug", fields(func(f *domain.EnvironmentFields) { f.OrgSlug = ptr("Acme!") }), "orgSlug"},
		{"blank include name", withScope(domain.Scope{Include: domain.ScopeRules{Names: []string{" "}}}), "scope.include.names"},
		{"blank exclude name", withScope(domain.Scope{Exclude: domain.ScopeRules{Names: []string{""}}}), "scope.exclude.names"},
		{"blank include pattern", withScope(domain.Scope{Include: domain.ScopeRules{Patterns: []string{" "}}}), "scope.include.patterns"},
		{"include pattern that does not compile", withScope(domain.Scope{Include: domain.ScopeRules{Patterns: []string{"["}}}), "scope.include.patterns"},
		{"exclude pattern that does not compile", withScope(domain.Scope{Exclude: domain.ScopeRules{Patterns: []string{"api-("}}}), "scope.exclude.patterns"},
		{"pattern that compiles only once wrapped", withScope(domain.Scope{Include: domain.ScopeRules{Patterns: []string{"a)|(b"}}}), "scope.include.patterns"},
		{"pattern that compiles only on its own", withScope(domain.Scope{Exclude: domain.ScopeRules{Patterns: []string{`\Qabc`}}}), "scope.exclude.patterns"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evts, err := domain.CreateEnvironment{ID: "e1", Fields: tc.fields}.Decide(domain.NewState(), now)
			require.ErrorIs(t, err, domain.ErrInvalid)
			var fe *domain.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.field, fe.Field)
			assert.Empty(t, evts)
		})
	}
}

func TestCreateEnvironmentNormalises(t *testing.T) {
	t.Parallel()
	emptyScope := domain.Scope{
		Include: domain.ScopeRules{Names: []string{}, Patterns: []string{}},
		Exclude: domain.ScopeRules{Names: []string{}, Patterns: []string{}},
	}
	tests := []struct {
		name                                string
		fields                              domain.EnvironmentFields
		wantName, wantType, wantPolicy, org string
		wantScope                           domain.Scope
	}{
		{"lower-case type, default WARN, no org", domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("k8s")},
			"prod", "K8S", "WARN", domain.NoOrg, emptyScope},
		{"mixed-case type with spaces, trimmed name", domain.EnvironmentFields{Name: ptr("  prod  "), Type: ptr(" Cloud_Run ")},
			"prod", "CLOUD_RUN", "WARN", domain.NoOrg, emptyScope},
		{"lower-case drift policy", domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("S3"), DriftPolicy: ptr("block")},
			"prod", "S3", "BLOCK", domain.NoOrg, emptyScope},
		{"IGNORE", domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("ECS"), DriftPolicy: ptr(" Ignore ")},
			"prod", "ECS", "IGNORE", domain.NoOrg, emptyScope},
		{"an org", domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("LAMBDA"), OrgSlug: ptr("acme")},
			"prod", "LAMBDA", "WARN", "acme", emptyScope},
		{"an empty org is none", domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("DOCKER"), OrgSlug: ptr("")},
			"prod", "DOCKER", "WARN", domain.NoOrg, emptyScope},
		{"a partial scope gets empty lists", domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("K8S"),
			Scope: &domain.Scope{Include: domain.ScopeRules{Patterns: []string{"api-.*"}}}},
			"prod", "K8S", "WARN", domain.NoOrg, domain.Scope{
				Include: domain.ScopeRules{Names: []string{}, Patterns: []string{"api-.*"}},
				Exclude: domain.ScopeRules{Names: []string{}, Patterns: []string{}},
			}},
		{"a description of 4096 runes", domain.EnvironmentFields{Name: ptr("prod"), Type: ptr("K8S"), Description: ptr(strings.Repeat("é", 4096))},
			"prod", "K8S", "WARN", domain.NoOrg, emptyScope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evts, err := domain.CreateEnvironment{ID: "e1", Fields: tc.fields}.Decide(domain.NewState(), now)
			require.NoError(t, err)
			require.Len(t, evts, 1)
			e := evts[0]
			assert.Equal(t, domain.EventEnvironmentCreated, e.Type)
			assert.Equal(t, domain.AggregateEnvironment, e.Aggregate)
			assert.Equal(t, "e1", e.AggregateID)
			assert.Equal(t, tc.org, e.Org)
			env := envPayload[domain.Environment](t, e)
			assert.Equal(t, "e1", env.ID)
			assert.Equal(t, tc.wantName, env.Name)
			assert.Equal(t, tc.wantType, env.Type)
			assert.Equal(t, tc.wantPolicy, env.DriftPolicy)
			assert.Equal(t, tc.org, env.Org())
			if tc.org == domain.NoOrg {
				assert.Nil(t, env.OrgSlug)
			}
			assert.Equal(t, tc.wantScope, env.Scope)
			assert.Equal(t, now, env.CreatedAt)
			assert.Equal(t, now, env.UpdatedAt)
		})
	}
	for _, typ := range domain.EnvironmentTypes {
		_, err := envCreate("e1", "", "prod", strings.ToLower(typ)).Decide(domain.NewState(), now)
		require.NoError(t, err, typ)
	}
}

func TestEnvironmentNamesAndUpdates(t *testing.T) {
	t.Parallel()
	s := domain.NewState()
	runEnvSteps(t, s, []envStep{
		{name: "create prod in acme", cmd: envCreate("e1", "acme", "prod", "K8S")},
		{name: "same name in acme", cmd: envCreate("e2", "acme", "prod", "ECS"), err: domain.ErrConflict},
		{name: "same name after trimming", cmd: envCreate("e2", "acme", " prod ", "ECS"), err: domain.ErrConflict},
		{name: "same name in another org", cmd: envCreate("e2", "other", "prod", "ECS")},
		{name: "same name with no org", cmd: envCreate("e3", "", "prod", "ECS")},
		{name: "staging in acme", cmd: envCreate("e4", "acme", "staging", "K8S")},
		{name: "rename onto a taken name", cmd: domain.UpdateEnvironment{ID: "e4", Fields: domain.EnvironmentFields{Name: ptr("prod")}}, err: domain.ErrConflict},
		{name: "move into an org where the name is taken", cmd: domain.UpdateEnvironment{ID: "e3", Fields: domain.EnvironmentFields{OrgSlug: ptr("acme")}}, err: domain.ErrConflict},
		{name: "keep its own name", cmd: domain.UpdateEnvironment{ID: "e4", Fields: domain.EnvironmentFields{Name: ptr("staging"), DriftPolicy: ptr("block")}}},
		{name: "rename frees the old name", cmd: domain.UpdateEnvironment{ID: "e1", Fields: domain.EnvironmentFields{Name: ptr("production")}}},
		{name: "the freed name can be taken", cmd: envCreate("e5", "acme", "prod", "K8S")},
		{name: "the new name is taken", cmd: envCreate("e6", "acme", "production", "K8S"), err: domain.ErrConflict},
		{name: "update unknown", cmd: domain.UpdateEnvironment{ID: "nope"}, err: domain.ErrNotFound},
		{name: "update with a bad type", cmd: domain.UpdateEnvironment{ID: "e1", Fields: domain.EnvironmentFields{Type: ptr("VM")}}, err: domain.ErrInvalid},
		{name: "update with a bad pattern", cmd: domain.UpdateEnvironment{ID: "e1", Fields: domain.EnvironmentFields{
			Scope: &domain.Scope{Exclude: domain.ScopeRules{Patterns: []string{"("}}}}}, err: domain.ErrInvalid},
		{name: "delete unknown", cmd: domain.DeleteEnvironment{ID: "nope"}, err: domain.ErrNotFound},
		{name: "delete frees the name", cmd: domain.DeleteEnvironment{ID: "e5"}, check: func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, domain.EventEnvironmentDeleted, evts[0].Type)
			assert.Equal(t, "acme", evts[0].Org)
			assert.Equal(t, &domain.EnvironmentDeleted{ID: "e5", Name: "prod", OrgSlug: ptr("acme")}, evts[0].Data)
		}},
		{name: "the deleted name can be taken", cmd: envCreate("e7", "acme", "prod", "K8S")},
		{name: "update of a deleted environment", cmd: domain.UpdateEnvironment{ID: "e5"}, err: domain.ErrNotFound},
	})

	id, ok := s.EnvironmentByName("acme", "production")
	assert.True(t, ok)
	assert.Equal(t, "e1", id)
	id, ok = s.EnvironmentByName("acme", "prod")
	assert.True(t, ok)
	assert.Equal(t, "e7", id)

	later := now.Add(time.Hour)
	evts, err := domain.UpdateEnvironment{ID: "e4", Fields: domain.EnvironmentFields{Description: ptr("the staging cluster")}}.Decide(s, later)
	require.NoError(t, err)
	require.Len(t, evts, 1)
	assert.Equal(t, domain.EventEnvironmentUpdated, evts[0].Type)
	env := envPayload[domain.Environment](t, evts[0])
	assert.Equal(t, "staging", env.Name, "fields not given stay")
	assert.Equal(t, "K8S", env.Type)
	assert.Equal(t, "BLOCK", env.DriftPolicy)
	assert.Equal(t, "the staging cluster", env.Description)
	assert.Equal(t, now, env.CreatedAt)
	assert.Equal(t, later, env.UpdatedAt)
}

func TestRecordSnapshotScope(t *testing.T) {
	t.Parallel()
	incl := func(names, patterns []string) domain.Scope {
		return domain.Scope{Include: domain.ScopeRules{Names: names, Patterns: patterns}}
	}
	excl := func(names, patterns []string) domain.Scope {
		return domain.Scope{Exclude: domain.ScopeRules{Names: names, Patterns: patterns}}
	}
	tests := []struct {
		name     string
		typ      string
		scope    domain.Scope
		reported []string
		kept     []string
	}{
		{"no rules keep everything", "K8S", domain.Scope{}, []string{"api", "web", "db"}, []string{"api", "web", "db"}},
		{"include names", "K8S", incl([]string{"web", "db"}, nil), []string{"api", "web", "db"}, []string{"web", "db"}},
		{"include patterns match whole names", "K8S", incl(nil, []string{"api-.*"}),
			[]string{"api-server", "my-api-server", "api"}, []string{"api-server"}},
		{"a pattern is not a substring search", "K8S", incl(nil, []string{"api"}),
			[]string{"api", "api-server", "my-api"}, []string{"api"}},
		{"an alternation is matched as a whole", "K8S", incl(nil, []string{"web|db"}),
			[]string{"web", "db", "webdb", "web-x", "x-db"}, []string{"web", "db"}},
		{"names and patterns together", "ECS", incl([]string{"db"}, []string{"api-.*"}),
			[]string{"api-1", "db", "web"}, []string{"api-1", "db"}},
		{"exclude wins over include", "K8S", domain.Scope{
			Include: domain.ScopeRules{Patterns: []string{"api-.*"}, Names: []string{"api-debug"}},
			Exclude: domain.ScopeRules{Names: []string{"api-debug"}, Patterns: []string{".*-canary"}},
		}, []string{"api-1", "api-debug", "api-canary", "web"}, []string{"api-1"}},
		{"an exclude pattern alone", "K8S", excl(nil, []string{".*-canary"}),
			[]string{"api", "api-canary", "canary-api", "web"}, []string{"api", "canary-api", "web"}},
		{"an exclude name alone", "SERVER", excl([]string{"web"}, nil), []string{"api", "web"}, []string{"api"}},
		{"S3 ignores scope", "S3", domain.Scope{Include: domain.ScopeRules{Names: []string{"only"}}, Exclude: domain.ScopeRules{Names: []string{"api"}}},
			[]string{"api", "web"}, []string{"api", "web"}},
		{"GENERIC ignores scope", "GENERIC", domain.Scope{Include: domain.ScopeRules{Patterns: []string{"x"}}, Exclude: domain.ScopeRules{Patterns: []string{".*"}}},
			[]string{"api", "web"}, []string{"api", "web"}},
		{"DOCKER ignores include patterns", "DOCKER", incl(nil, []string{"api-.*"}), []string{"api-1", "web"}, []string{"api-1", "web"}},
		{"DOCKER keeps include names", "DOCKER", incl([]string{"web"}, []string{"api-.*"}), []string{"api-1", "web"}, []string{"web"}},
		{"DOCKER ignores exclude patterns, not exclude names", "DOCKER", excl([]string{"db"}, []string{"api-.*"}),
			[]string{"api-1", "db", "web"}, []string{"api-1", "web"}},
		{"LAMBDA honours patterns", "LAMBDA", incl(nil, []string{"fn-.*"}), []string{"fn-a", "other"}, []string{"fn-a"}},
		{"names are matched after trimming", "K8S", incl([]string{"web"}, nil), []string{" web ", "api"}, []string{"web"}},
		{"everything excluded", "K8S", excl(nil, []string{".*"}), []string{"api", "web"}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := domain.NewState()
			create := envCreate("e1", "acme", "prod", tc.typ)
			create.Fields.Scope = &tc.scope
			apply(t, s, create)
			var arts []domain.SnapshotArtifact
			for _, n := range tc.reported {
				arts = append(arts, envArt(n, envSha("a")))
			}
			snap := envDecide[domain.Snapshot](t, s, envSnap("s1", "e1", arts...))
			assert.Equal(t, tc.kept, artNames(snap.Artifacts))
			assert.Equal(t, len(tc.reported)-len(tc.kept), snap.Excluded)
		})
	}
}

func TestRecordSnapshotRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(c *domain.RecordSnapshot)
		err  error
		// field is the FieldError's field when err is ErrInvalid.
		field string
	}{
		{"missing recordedBy", func(c *domain.RecordSnapshot) { c.RecordedBy = nil }, domain.ErrInvalid, "recordedBy"},
		{"blank recordedBy", func(c *domain.RecordSnapshot) { c.RecordedBy = ptr(" ") }, domain.ErrInvalid, "recordedBy"},
		{"malformed digest", func(c *domain.RecordSnapshot) { c.Artifacts[0].ArtifactSha256 = "sha256:xyz" }, domain.ErrInvalid, "artifacts"},
		{"short bare digest", func(c *domain.RecordSnapshot) { c.Artifacts[0].ArtifactSha256 = strings.Repeat("a", 63) }, domain.ErrInvalid, "artifacts"},
		{"empty digest", func(c *domain.RecordSnapshot) { c.Artifacts[0].ArtifactSha256 = "" }, domain.ErrInvalid, "artifacts"},
		{"malformed digest even with AllowEmptyDigest", func(c *domain.RecordSnapshot) {
			c.AllowEmptyDigest, c.Artifacts[0].ArtifactSha256 = true, "sha256:xyz"
		}, domain.ErrInvalid, "artifacts"},
		{"blank name", func(c *domain.RecordSnapshot) { c.Artifacts[1].ArtifactName = "  " }, domain.ErrInvalid, "artifacts"},
		{"long name", func(c *domain.RecordSnapshot) { c.Artifacts[0].ArtifactName = strings.Repeat("n", 256) }, domain.ErrInvalid, "artifacts"},
		{"long tag", func(c *domain.RecordSnapshot) { c.Artifacts[0].ArtifactTag = strings.Repeat("t", 256) }, domain.ErrInvalid, "artifacts"},
		{"negative instance count", func(c *domain.RecordSnapshot) { c.Artifacts[1].InstanceCount = -1 }, domain.ErrInvalid, "artifacts"},
		{"instance context not an object", func(c *domain.RecordSnapshot) {
			c.Artifacts[0].Instances = []domain.SnapshotInstance{{CreatedAt: 1, Context: json.RawMessage(`["pod"]`)}}
		}, domain.ErrInvalid, "artifacts"},
		{"instance context not JSON", func(c *domain.RecordSnapshot) {
			c.Artifacts[0].Instances = []domain.SnapshotInstance{{CreatedAt: 1, Context: json.RawMessage(`{"podName":`)}}
		}, domain.ErrInvalid, "artifacts"},
		{"instance context too large", func(c *domain.RecordSnapshot) {
			c.Artifacts[0].Instances = []domain.SnapshotInstance{{Context: json.RawMessage(`{"pad":"` + strings.Repeat("x", domain.MaxInstanceContext) + `"}`)}}
		}, domain.ErrInvalid, "artifacts"},
		{"too many artifacts", func(c *domain.RecordSnapshot) {
			c.Artifacts = make([]domain.SnapshotArtifact, domain.MaxSnapshotArtifacts+1)
		}, domain.ErrInvalid, "artifacts"},
		{"unknown environment", func(c *domain.RecordSnapshot) { c.EnvironmentID = "nope" }, domain.ErrNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := domain.NewState()
			apply(t, s, envCreate("e1", "acme", "prod", "K8S"))
			c := envSnap("s1", "e1", envArt("api", envSha("a")), envArt("web", envSha("b")))
			tc.mod(&c)
			evts, err := c.Decide(s, now)
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

func TestRecordSnapshotNormalises(t *testing.T) {
	t.Parallel()
	s := domain.NewState()
	apply(t, s, envCreate("e1", "acme", "prod", "ECS"))
	reported := []domain.SnapshotArtifact{
		{ArtifactName: " api ", ArtifactSha256: strings.Repeat("A", 64), ArtifactTag: "1.0"},
		{ArtifactName: "web", ArtifactSha256: "sha256:" + strings.Repeat("B", 64), ArtifactTag: " 2.0 ", InstanceCount: 3},
		{ArtifactName: "job", ArtifactSha256: "", InstanceCount: 0},
	}
	before := append([]domain.SnapshotArtifact(nil), reported...)
	c := domain.RecordSnapshot{ID: "s1", EnvironmentID: "e1", RecordedBy: ptr("  ecs-reporter "), Artifacts: reported, AllowEmptyDigest: true}
	evts := apply(t, s, c)
	require.Len(t, evts, 1)
	e := evts[0]
	assert.Equal(t, domain.EventSnapshotRecorded, e.Type)
	assert.Equal(t, domain.AggregateEnvironment, e.Aggregate)
	assert.Equal(t, "e1", e.AggregateID)
	assert.Equal(t, "acme", e.Org)
	assert.Equal(t, &domain.Snapshot{
		ID: "s1", EnvironmentID: "e1", SnapshotIndex: 1, RecordedAt: now, RecordedBy: "ecs-reporter",
		Artifacts: []domain.SnapshotArtifact{
			{ArtifactName: "api", ArtifactSha256: envSha("a"), ArtifactTag: "1.0", InstanceCount: 1},
			{ArtifactName: "web", ArtifactSha256: envSha("b"), ArtifactTag: " 2.0 ", InstanceCount: 3},
			{ArtifactName: "job", ArtifactSha256: "", InstanceCount: 1},
		},
	}, e.Data)
	assert.Equal(t, before, reported, "the command's artifacts are not changed")
}

// TestRecordSnapshotInstances: listed instances are kept as reported, and
// their number is the instance count, whatever count came with them.
func TestRecordSnapshotInstances(t *testing.T) {
	t.Parallel()
	s := domain.NewState()
	apply(t, s, envCreate("e1", "acme", "prod", "K8S"))
	pods := []domain.SnapshotInstance{
		{CreatedAt: 1767225600, Context: json.RawMessage(`{"namespace":"shop","podName":"web-a"}`)},
		{CreatedAt: 1767225660},
	}
	c := envSnap("s1", "e1", envArt("web", envSha("a")))
	c.Artifacts[0].InstanceCount, c.Artifacts[0].Instances = 7, pods
	evts := apply(t, s, c)
	require.Len(t, evts, 1)
	got := evts[0].Data.(*domain.Snapshot).Artifacts[0]
	assert.Equal(t, 2, got.InstanceCount)
	assert.Equal(t, pods, got.Instances)
}

func TestRecordSnapshotSkipUnchanged(t *testing.T) {
	t.Parallel()
	s := domain.NewState()
	scoped := envCreate("e1", "acme", "prod", "K8S")
	scoped.Fields.Scope = &domain.Scope{Exclude: domain.ScopeRules{Names: []string{"sidecar"}}}
	apply(t, s, scoped)
	apply(t, s, envCreate("e2", "acme", "staging", "K8S"))
	recount := func(a domain.SnapshotArtifact, n int, tag string) domain.SnapshotArtifact {
		a.InstanceCount, a.ArtifactTag = n, tag
		return a
	}
	api, web := envArt("api", envSha("a")), envArt("web", envSha("b"))
	apiNew, db := envArt("api", envSha("c")), envArt("db", envSha("d"))
	tests := []struct {
		name string
		cmd  domain.RecordSnapshot
		// index is the new snapshot's index, 0 when nothing is recorded.
		index int
	}{
		{"the first snapshot is recorded even when skipping", envSkip("s1", "e1", api, web), 1},
		{"same set with other counts, tags and order", envSkip("s2", "e1", recount(web, 5, "x"), recount(api, 2, "y")), 0},
		{"duplicates do not change the set", envSkip("s3", "e1", api, api, web), 0},
		{"an out-of-scope workload is not a change", envSkip("s4", "e1", api, web, envArt("sidecar", envSha("e"))), 0},
		{"a bare digest is the same digest", envSkip("s5", "e1", envArt("api", strings.Repeat("A", 64)), web), 0},
		{"a new digest is a change", envSkip("s6", "e1", apiNew, web), 2},
		{"without SkipUnchanged the same set is recorded", envSnap("s7", "e1", apiNew, web), 3},
		{"a removed workload is a change", envSkip("s8", "e1", apiNew), 4},
		{"an added workload is a change", envSkip("s9", "e1", apiNew, db), 5},
		{"a renamed workload is a change", envSkip("s10", "e1", apiNew, envArt("db2", envSha("d"))), 6},
		{"another environment has its own indexes", envSkip("s11", "e2", apiNew, envArt("db2", envSha("d"))), 1},
		{"and is compared with its own latest", envSkip("s12", "e2", apiNew, envArt("db2", envSha("d"))), 0},
		{"an empty report after a non-empty one is a change", envSkip("s13", "e1"), 7},
		{"then an empty report is unchanged", envSkip("s14", "e1"), 0},
	}
	for _, tc := range tests {
		evts, err := tc.cmd.Decide(s, now)
		require.NoError(t, err, tc.name)
		if tc.index == 0 {
			assert.Empty(t, evts, tc.name)
			continue
		}
		require.Len(t, evts, 1, tc.name)
		snap := envPayload[domain.Snapshot](t, evts[0])
		assert.Equal(t, tc.index, snap.SnapshotIndex, tc.name)
		assert.Equal(t, tc.cmd.EnvironmentID, snap.EnvironmentID, tc.name)
		s.ApplyEvent(evts[0])
	}
}

func TestApproveBaseline(t *testing.T) {
	t.Parallel()
	s := domain.NewState()
	apply(t, s, envCreate("e1", "acme", "prod", "K8S"))
	apply(t, s, envCreate("e2", "acme", "staging", "K8S"))
	approve := func(id, env string, snapshot *string) domain.ApproveBaseline {
		return domain.ApproveBaseline{ID: id, EnvironmentID: env, SnapshotID: snapshot, ApprovedBy: ptr(" alice "), Description: ptr("release 1")}
	}
	baseline := func(snapshot *string, index *int, replaces *string) func(t *testing.T, evts []domain.Event) {
		t.Helper()
		return func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, domain.EventBaselineApproved, evts[0].Type)
			assert.Equal(t, "acme", evts[0].Org)
			b := envPayload[domain.Baseline](t, evts[0])
			assert.Equal(t, evts[0].AggregateID, b.EnvironmentID)
			assert.Equal(t, snapshot, b.SnapshotID)
			assert.Equal(t, index, b.SnapshotIndex)
			assert.Equal(t, replaces, b.Replaces)
			assert.Equal(t, "alice", b.ApprovedBy)
			assert.Equal(t, now, b.ApprovedAt)
			assert.True(t, b.IsActive)
		}
	}
	runEnvSteps(t, s, []envStep{
		{name: "no snapshot yet: no snapshot", cmd: approve("b1", "e1", nil), check: baseline(nil, nil, nil)},
		{name: "snapshot 1", cmd: envSnap("s1", "e1", envArt("api", envSha("a")))},
		{name: "snapshot 2", cmd: envSnap("s2", "e1", envArt("api", envSha("b")))},
		{name: "snapshot of staging", cmd: envSnap("s3", "e2", envArt("api", envSha("b")))},
		{name: "the latest by default", cmd: approve("b2", "e1", nil), check: baseline(ptr("s2"), ptr(2), ptr("b1"))},
		{name: "an empty snapshot id is the latest", cmd: approve("b3", "e1", ptr("")), check: baseline(ptr("s2"), ptr(2), ptr("b2"))},
		{name: "an explicit earlier snapshot", cmd: approve("b4", "e1", ptr("s1")), check: baseline(ptr("s1"), ptr(1), ptr("b3"))},
		{name: "another environment's chain is its own", cmd: approve("b5", "e2", nil), check: baseline(ptr("s3"), ptr(1), nil)},
		{name: "a snapshot of another environment", cmd: approve("b6", "e1", ptr("s3")), err: domain.ErrNotFound},
		{name: "an unknown snapshot", cmd: approve("b6", "e1", ptr("nope")), err: domain.ErrNotFound},
		{name: "an unknown environment", cmd: approve("b6", "nope", nil), err: domain.ErrNotFound},
		{name: "missing approvedBy", cmd: domain.ApproveBaseline{ID: "b6", EnvironmentID: "e1"}, err: domain.ErrInvalid},
		{name: "long description", cmd: domain.ApproveBaseline{ID: "b6", EnvironmentID: "e1", ApprovedBy: ptr("a"),
			Description: ptr(strings.Repeat("d", 4097))}, err: domain.ErrInvalid},
		{name: "the chain continues", cmd: approve("b7", "e1", nil), check: baseline(ptr("s2"), ptr(2), ptr("b4"))},
	})
}

func TestAddAllowlistEntryRejects(t *testing.T) {
	t.Parallel()
	valid := func(mod func(c *domain.AddAllowlistEntry)) domain.AddAllowlistEntry {
		c := domain.AddAllowlistEntry{ID: "a1", EnvironmentID: "e1", Sha256: ptr(envSha("a")), Reason: ptr("hotfix"), ApprovedBy: ptr("alice")}
		mod(&c)
		return c
	}
	tests := []struct {
		name  string
		cmd   domain.AddAllowlistEntry
		err   error
		field string
	}{
		{"neither sha256 nor pattern", valid(func(c *domain.AddAllowlistEntry) { c.Sha256 = nil }), domain.ErrInvalid, "sha256"},
		{"both empty", valid(func(c *domain.AddAllowlistEntry) { c.Sha256, c.NamePattern = ptr(""), ptr("") }), domain.ErrInvalid, "sha256"},
		{"malformed sha256", valid(func(c *domain.AddAllowlistEntry) { c.Sha256 = ptr("sha256:xyz") }), domain.ErrInvalid, "sha256"},
		{"bad regex", valid(func(c *domain.AddAllowlistEntry) { c.Sha256, c.NamePattern = nil, ptr("api-(") }), domain.ErrInvalid, "namePattern"},
		{"long pattern", valid(func(c *domain.AddAllowlistEntry) { c.NamePattern = ptr(strings.Repeat("a", 256)) }), domain.ErrInvalid, "namePattern"},
		{"missing reason", valid(func(c *domain.AddAllowlistEntry) { c.Reason = nil }), domain.ErrInvalid, "reason"},
		{"blank approvedBy", valid(func(c *domain.AddAllowlistEntry) { c.ApprovedBy = ptr(" ") }), domain.ErrInvalid, "approvedBy"},
		{"unknown environment", valid(func(c *domain.AddAllowlistEntry) { c.EnvironmentID = "nope" }), domain.ErrNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := domain.NewState()
			apply(t, s, envCreate("e1", "acme", "prod", "K8S"))
			evts, err := tc.cmd.Decide(s, now)
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

func TestAddAllowlistEntry(t *testing.T) {
	t.Parallel()
	expires := now.Add(24 * time.Hour)
	tests := []struct {
		name string
		cmd  domain.AddAllowlistEntry
		want domain.AllowlistEntry
	}{
		{"a bare digest is normalised",
			domain.AddAllowlistEntry{ID: "a1", EnvironmentID: "e1", Sha256: ptr(strings.Repeat("A", 64)), Reason: ptr(" hotfix "), ApprovedBy: ptr(" alice ")},
			domain.AllowlistEntry{ID: "a1", EnvironmentID: "e1", Sha256: ptr(envSha("a")), Reason: "hotfix", ApprovedBy: "alice", CreatedAt: now, Status: domain.AllowlistStatusActive}},
		{"a pattern with an expiry; an empty sha256 is none",
			domain.AddAllowlistEntry{ID: "a2", EnvironmentID: "e1", Sha256: ptr(""), NamePattern: ptr("debug"), Reason: ptr("r"), ApprovedBy: ptr("bob"), ExpiresAt: &expires},
			domain.AllowlistEntry{ID: "a2", EnvironmentID: "e1", NamePattern: ptr("debug"), Reason: "r", ApprovedBy: "bob", CreatedAt: now, ExpiresAt: &expires, Status: domain.AllowlistStatusActive}},
		{"both",
			domain.AddAllowlistEntry{ID: "a3", EnvironmentID: "e1", Sha256: ptr(envSha("b")), NamePattern: ptr("^api$"), Reason: ptr("r"), ApprovedBy: ptr("bob")},
			domain.AllowlistEntry{ID: "a3", EnvironmentID: "e1", Sha256: ptr(envSha("b")), NamePattern: ptr("^api$"), Reason: "r", ApprovedBy: "bob", CreatedAt: now, Status: domain.AllowlistStatusActive}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := domain.NewState()
			apply(t, s, envCreate("e1", "acme", "prod", "K8S"))
			evts := apply(t, s, tc.cmd)
			require.Len(t, evts, 1)
			assert.Equal(t, domain.EventAllowlistAdded, evts[0].Type)
			assert.Equal(t, "acme", evts[0].Org)
			assert.Equal(t, "e1", evts[0].AggregateID)
			assert.Equal(t, &tc.want, evts[0].Data)
			assert.True(t, tc.want.EffectiveAt(now))
		})
	}
}

func TestRemoveAllowlistEntry(t *testing.T) {
	t.Parallel()
	s := domain.NewState()
	apply(t, s, envCreate("e1", "acme", "prod", "K8S"))
	apply(t, s, envCreate("e2", "acme", "staging", "K8S"))
	add := func(id, env string) domain.AddAllowlistEntry {
		return domain.AddAllowlistEntry{ID: id, EnvironmentID: env, NamePattern: ptr("debug"), Reason: ptr("r"), ApprovedBy: ptr("alice")}
	}
	runEnvSteps(t, s, []envStep{
		{name: "add to prod", cmd: add("a1", "e1")},
		{name: "add to staging", cmd: add("a2", "e2")},
		{name: "remove it from another environment", cmd: domain.RemoveAllowlistEntry{EnvironmentID: "e2", EntryID: "a1"}, err: domain.ErrNotFound},
		{name: "remove from an unknown environment", cmd: domain.RemoveAllowlistEntry{EnvironmentID: "nope", EntryID: "a1"}, err: domain.ErrNotFound},
		{name: "remove an unknown entry", cmd: domain.RemoveAllowlistEntry{EnvironmentID: "e1", EntryID: "nope"}, err: domain.ErrNotFound},
		{name: "remove", cmd: domain.RemoveAllowlistEntry{EnvironmentID: "e1", EntryID: "a1"}, check: func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, domain.EventAllowlistRemoved, evts[0].Type)
			assert.Equal(t, "e1", evts[0].AggregateID)
			assert.Equal(t, &domain.AllowlistRemoved{ID: "a1", EnvironmentID: "e1", RemovedAt: now}, evts[0].Data)
		}},
		{name: "remove again", cmd: domain.RemoveAllowlistEntry{EnvironmentID: "e1", EntryID: "a1"}, err: domain.ErrConflict},
		{name: "the other entry is still there", cmd: domain.RemoveAllowlistEntry{EnvironmentID: "e2", EntryID: "a2"}},
	})
}

func TestAllowlistEntryEffectiveAt(t *testing.T) {
	t.Parallel()
	expires := now.Add(time.Hour)
	tests := []struct {
		name  string
		entry domain.AllowlistEntry
		at    time.Time
		want  bool
	}{
		{"active without expiry", domain.AllowlistEntry{Status: domain.AllowlistStatusActive}, now, true},
		{"active before expiry", domain.AllowlistEntry{Status: domain.AllowlistStatusActive, ExpiresAt: &expires}, expires.Add(-time.Nanosecond), true},
		{"expired at expiresAt", domain.AllowlistEntry{Status: domain.AllowlistStatusActive, ExpiresAt: &expires}, expires, false},
		{"expired after expiresAt", domain.AllowlistEntry{Status: domain.AllowlistStatusActive, ExpiresAt: &expires}, expires.Add(time.Minute), false},
		{"removed", domain.AllowlistEntry{Status: domain.AllowlistStatusRemoved}, now, false},
		{"removed before expiry", domain.AllowlistEntry{Status: domain.AllowlistStatusRemoved, ExpiresAt: &expires}, now, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.entry.EffectiveAt(tc.at), tc.name)
	}
}

func TestAllowlistEntryMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		entry      domain.AllowlistEntry
		sha, image string
		want       bool
	}{
		{"same digest", domain.AllowlistEntry{Sha256: ptr(envSha("a"))}, envSha("a"), "api", true},
		{"another digest", domain.AllowlistEntry{Sha256: ptr(envSha("a"))}, envSha("b"), "api", false},
		{"pattern found anywhere in the name", domain.AllowlistEntry{NamePattern: ptr("debug")}, envSha("b"), "api-debug-1", true},
		{"pattern anchored at the start", domain.AllowlistEntry{NamePattern: ptr("^debug")}, envSha("b"), "api-debug", false},
		{"pattern is case-sensitive", domain.AllowlistEntry{NamePattern: ptr("debug")}, envSha("b"), "API-DEBUG", false},
		{"either digest or pattern: digest", domain.AllowlistEntry{Sha256: ptr(envSha("a")), NamePattern: ptr("^web$")}, envSha("a"), "api", true},
		{"either digest or pattern: pattern", domain.AllowlistEntry{Sha256: ptr(envSha("a")), NamePattern: ptr("^web$")}, envSha("b"), "web", true},
		{"neither", domain.AllowlistEntry{Sha256: ptr(envSha("a")), NamePattern: ptr("^web$")}, envSha("b"), "api", false},
		{"an empty digest matches no digest entry", domain.AllowlistEntry{Sha256: ptr(envSha("a"))}, "", "api", false},
		{"an invalid stored pattern matches nothing", domain.AllowlistEntry{NamePattern: ptr("(")}, envSha("b"), "(", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.entry.Matches(tc.sha, tc.image), tc.name)
	}
}

func TestDiffSnapshots(t *testing.T) {
	t.Parallel()
	tagged := func(name, digest, tag string) domain.SnapshotArtifact {
		return domain.SnapshotArtifact{ArtifactName: name, ArtifactSha256: digest, ArtifactTag: tag}
	}
	entry := func(name, tag string, from, to *string) domain.DriftEntry {
		return domain.DriftEntry{ArtifactName: name, ArtifactTag: tag, Sha256From: from, Sha256To: to}
	}
	a, b, c := envSha("a"), envSha("b"), envSha("c")
	tests := []struct {
		name                               string
		from, to                           []domain.SnapshotArtifact
		added, removed, updated, unchanged []domain.DriftEntry
	}{
		{
			name: "every category, each sorted by name",
			from: []domain.SnapshotArtifact{tagged("zeta", a, "z1"), tagged("beta", a, "b1"), tagged("alpha", a, "a1"), tagged("yank", b, "y1"), tagged("delta", a, "d1")},
			to:   []domain.SnapshotArtifact{tagged("omega", a, "o2"), tagged("delta", a, "d2"), tagged("gamma", b, "g2"), tagged("beta", c, "b2"), tagged("alpha", b, "a2")},
			added: []domain.DriftEntry{
				entry("gamma", "g2", nil, &b), entry("omega", "o2", nil, &a),
			},
			removed: []domain.DriftEntry{
				entry("yank", "y1", &b, nil), entry("zeta", "z1", &a, nil),
			},
			updated: []domain.DriftEntry{
				entry("alpha", "a2", &a, &b), entry("beta", "b2", &a, &c),
			},
			unchanged: []domain.DriftEntry{entry("delta", "d2", &a, &a)},
		},
		{
			name:      "the last of duplicate names wins",
			from:      []domain.SnapshotArtifact{tagged("api", a, "1"), tagged("api", b, "2"), tagged("web", a, "1")},
			to:        []domain.SnapshotArtifact{tagged("api", b, "3"), tagged("web", c, "x"), tagged("web", a, "y")},
			added:     []domain.DriftEntry{},
			removed:   []domain.DriftEntry{},
			updated:   []domain.DriftEntry{},
			unchanged: []domain.DriftEntry{entry("api", "3", &b, &b), entry("web", "y", &a, &a)},
		},
		{
			name:      "to an empty snapshot everything is removed",
			from:      []domain.SnapshotArtifact{tagged("web", a, "1"), tagged("api", b, "2")},
			to:        nil,
			added:     []domain.DriftEntry{},
			removed:   []domain.DriftEntry{entry("api", "2", &b, nil), entry("web", "1", &a, nil)},
			updated:   []domain.DriftEntry{},
			unchanged: []domain.DriftEntry{},
		},
		{
			name:      "two empty snapshots give empty lists, not null",
			added:     []domain.DriftEntry{},
			removed:   []domain.DriftEntry{},
			updated:   []domain.DriftEntry{},
			unchanged: []domain.DriftEntry{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			from := &domain.Snapshot{ID: "s3", EnvironmentID: "e1", SnapshotIndex: 3, Artifacts: tc.from}
			to := &domain.Snapshot{ID: "s7", EnvironmentID: "e1", SnapshotIndex: 7, Artifacts: tc.to}
			got := domain.DiffSnapshots(from, to)
			assert.Equal(t, domain.SnapshotDiff{
				EnvironmentID: "e1", FromSnapshotIndex: 3, ToSnapshotIndex: 7,
				Added: tc.added, Removed: tc.removed, Updated: tc.updated, Unchanged: tc.unchanged,
			}, got)
		})
	}
}

func TestComputeDrift(t *testing.T) {
	t.Parallel()
	apiOld, apiNew, web, db, cache := envSha("1"), envSha("2"), envSha("3"), envSha("4"), envSha("5")
	base := &domain.Snapshot{ID: "s1", EnvironmentID: "e1", SnapshotIndex: 1, Artifacts: []domain.SnapshotArtifact{
		envArt("api", apiOld), envArt("web", web), envArt("db", db),
	}}
	latest := &domain.Snapshot{ID: "s4", EnvironmentID: "e1", SnapshotIndex: 4, Artifacts: []domain.SnapshotArtifact{
		envArt("cache", cache), envArt("web", web), envArt("api", apiNew),
	}}
	active := func(sha, pattern *string) domain.AllowlistEntry {
		return domain.AllowlistEntry{ID: "al", EnvironmentID: "e1", Sha256: sha, NamePattern: pattern, Status: domain.AllowlistStatusActive}
	}
	expiring := func(at time.Time) domain.AllowlistEntry {
		e := active(nil, ptr("cach"))
		e.ExpiresAt = &at
		return e
	}
	removed := active(ptr(cache), nil)
	removed.Status = domain.AllowlistStatusRemoved
	tests := []struct {
		name                             string
		policy                           string
		latest                           *domain.Snapshot
		allow                            []domain.AllowlistEntry
		added, removed, updated, allowed []string
		hasDrift, blocking               bool
	}{
		{name: "WARN reports drift", policy: "WARN", added: []string{"cache"}, removed: []string{"db"}, updated: []string{"api"}, hasDrift: true},
		{name: "BLOCK reports blocking drift", policy: "BLOCK", added: []string{"cache"}, removed: []string{"db"}, updated: []string{"api"}, hasDrift: true, blocking: true},
		{name: "IGNORE reports no drift", policy: "IGNORE", added: []string{"cache"}, removed: []string{"db"}, updated: []string{"api"}},
		{name: "no change is no drift, even under BLOCK", policy: "BLOCK", latest: base},
		{name: "allowed by the new digest of an updated workload", policy: "WARN", allow: []domain.AllowlistEntry{active(&apiNew, nil)},
			added: []string{"cache"}, removed: []string{"db"}, allowed: []string{"api"}, hasDrift: true},
		{name: "the old digest of an updated workload does not excuse it", policy: "WARN", allow: []domain.AllowlistEntry{active(&apiOld, nil)},
			added: []string{"cache"}, removed: []string{"db"}, updated: []string{"api"}, hasDrift: true},
		{name: "a removed workload allowed by its digest", policy: "WARN", allow: []domain.AllowlistEntry{active(&db, nil)},
			added: []string{"cache"}, updated: []string{"api"}, allowed: []string{"db"}, hasDrift: true},
		{name: "a pattern found anywhere in the name", policy: "WARN", allow: []domain.AllowlistEntry{active(nil, ptr("ach"))},
			removed: []string{"db"}, updated: []string{"api"}, allowed: []string{"cache"}, hasDrift: true},
		{name: "an anchored pattern that does not match", policy: "WARN", allow: []domain.AllowlistEntry{active(nil, ptr("^ach"))},
			added: []string{"cache"}, removed: []string{"db"}, updated: []string{"api"}, hasDrift: true},
		{name: "an entry in force until later", policy: "BLOCK", allow: []domain.AllowlistEntry{expiring(now.Add(time.Second))},
			removed: []string{"db"}, updated: []string{"api"}, allowed: []string{"cache"}, hasDrift: true, blocking: true},
		{name: "an entry expiring now no longer counts", policy: "BLOCK", allow: []domain.AllowlistEntry{expiring(now)},
			added: []string{"cache"}, removed: []string{"db"}, updated: []string{"api"}, hasDrift: true, blocking: true},
		{name: "a removed entry does not count", policy: "BLOCK", allow: []domain.AllowlistEntry{removed},
			added: []string{"cache"}, removed: []string{"db"}, updated: []string{"api"}, hasDrift: true, blocking: true},
		{name: "everything allowed is no drift under BLOCK", policy: "BLOCK",
			allow:   []domain.AllowlistEntry{removed, active(nil, ptr("^(api|cache|db)$"))},
			allowed: []string{"cache", "db", "api"}},
		{name: "everything allowed under IGNORE", policy: "IGNORE", allow: []domain.AllowlistEntry{active(nil, ptr("."))},
			allowed: []string{"cache", "db", "api"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := &domain.Environment{ID: "e1", Name: "prod", Type: "K8S", DriftPolicy: tc.policy}
			l := latest
			if tc.latest != nil {
				l = tc.latest
			}
			r := domain.ComputeDrift(env, &domain.Baseline{ID: "b1", EnvironmentID: "e1"}, base, l, tc.allow, now)
			assert.Equal(t, "e1", r.EnvironmentID)
			assert.Equal(t, "b1", r.BaselineID)
			assert.Equal(t, l.ID, r.SnapshotID)
			assert.Equal(t, l.SnapshotIndex, r.SnapshotIndex)
			assert.Equal(t, now, r.GeneratedAt)
			assert.Equal(t, tc.policy, r.DriftPolicy)
			assert.Equal(t, orNone(tc.added), driftNames(r.Added), "added")
			assert.Equal(t, orNone(tc.removed), driftNames(r.Removed), "removed")
			assert.Equal(t, orNone(tc.updated), driftNames(r.Updated), "updated")
			assert.Equal(t, orNone(tc.allowed), driftNames(r.Allowed), "allowed")
			assert.Equal(t, tc.hasDrift, r.HasDrift, "hasDrift")
			assert.Equal(t, tc.blocking, r.Blocking, "blocking")
		})
	}
}

func TestRecordDriftCheck(t *testing.T) {
	t.Parallel()
	s := domain.NewState()
	apply(t, s, envCreate("e1", "acme", "prod", "K8S"))
	report := domain.DriftReport{ID: "d1", EnvironmentID: "e1", BaselineID: "b1", SnapshotID: "s1", HasDrift: true, GeneratedAt: now.Add(-time.Hour)}
	evts := apply(t, s, domain.RecordDriftCheck{Report: report})
	require.Len(t, evts, 1)
	assert.Equal(t, domain.EventDriftChecked, evts[0].Type)
	assert.Equal(t, "acme", evts[0].Org)
	want := report
	want.GeneratedAt = now
	assert.Equal(t, &want, evts[0].Data)

	report.EnvironmentID = "nope"
	_, err := domain.RecordDriftCheck{Report: report}.Decide(s, now)
	require.ErrorIs(t, err, domain.ErrNotFound)
}

func TestLogicalEnvironmentCommands(t *testing.T) {
	t.Parallel()
	s := domain.NewState()
	apply(t, s, envCreate("e1", "acme", "prod-eu", "K8S"))
	apply(t, s, envCreate("e2", "acme", "prod-us", "K8S"))
	apply(t, s, envCreate("e3", "acme", "prod-ap", "K8S"))
	logical := func(typ, name, description string, members ...string) func(t *testing.T, evts []domain.Event) {
		t.Helper()
		return func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, typ, evts[0].Type)
			assert.Equal(t, domain.AggregateLogical, evts[0].Aggregate)
			assert.Equal(t, domain.NoOrg, evts[0].Org)
			l := envPayload[domain.LogicalEnvironment](t, evts[0])
			assert.Equal(t, evts[0].AggregateID, l.ID)
			assert.Equal(t, name, l.Name)
			assert.Equal(t, description, l.Description)
			assert.Equal(t, orNone(members), l.Members)
			assert.Equal(t, now, l.CreatedAt)
			assert.Equal(t, now, l.UpdatedAt)
		}
	}
	save := func(id string, create bool, name, description *string) domain.SaveLogicalEnvironment {
		return domain.SaveLogicalEnvironment{ID: id, Create: create, Name: name, Description: description}
	}
	member := func(id, env string, add bool) domain.SetLogicalMember {
		return domain.SetLogicalMember{LogicalID: id, EnvironmentID: env, Add: add}
	}
	runEnvSteps(t, s, []envStep{
		{name: "create without a name", cmd: save("l1", true, nil, nil), err: domain.ErrInvalid},
		{name: "create with a blank name", cmd: save("l1", true, ptr(" "), nil), err: domain.ErrInvalid},
		{name: "create with a long description", cmd: save("l1", true, ptr("production"), ptr(strings.Repeat("d", 4097))), err: domain.ErrInvalid},
		{name: "create production", cmd: save("l1", true, ptr(" production "), ptr("all regions")),
			check: logical(domain.EventLogicalCreated, "production", "all regions")},
		{name: "create a duplicate name", cmd: save("l2", true, ptr("production"), nil), err: domain.ErrConflict},
		{name: "create staging", cmd: save("l2", true, ptr("staging"), nil), check: logical(domain.EventLogicalCreated, "staging", "")},
		{name: "rename onto a taken name", cmd: save("l2", false, ptr("production"), nil), err: domain.ErrConflict},
		{name: "update unknown", cmd: save("nope", false, ptr("x"), nil), err: domain.ErrNotFound},
		{name: "update with a long name", cmd: save("l2", false, ptr(strings.Repeat("n", 256)), nil), err: domain.ErrInvalid},
		{name: "update the description only", cmd: save("l1", false, nil, ptr("every region")),
			check: logical(domain.EventLogicalUpdated, "production", "every region")},
		{name: "an empty name leaves the name: nothing changes, no event", cmd: save("l1", false, ptr(""), nil),
			check: noEvents},
		{name: "the same description again: no event", cmd: save("l1", false, nil, ptr("every region")),
			check: noEvents},
		{name: "add an unknown environment", cmd: member("l1", "nope", true), err: domain.ErrNotFound},
		{name: "add to an unknown logical environment", cmd: member("nope", "e1", true), err: domain.ErrNotFound},
		{name: "add prod-eu", cmd: member("l1", "e1", true), check: logical(domain.EventLogicalMemberAdded, "production", "every region", "e1")},
		{name: "add prod-eu again", cmd: member("l1", "e1", true), err: domain.ErrConflict},
		{name: "add prod-us", cmd: member("l1", "e2", true), check: logical(domain.EventLogicalMemberAdded, "production", "every region", "e1", "e2")},
		{name: "add prod-ap", cmd: member("l1", "e3", true), check: logical(domain.EventLogicalMemberAdded, "production", "every region", "e1", "e2", "e3")},
		{name: "members of one are not members of another", cmd: member("l2", "e1", false), err: domain.ErrNotFound},
		{name: "remove prod-eu", cmd: member("l1", "e1", false), check: logical(domain.EventLogicalMemberRemoved, "production", "every region", "e2", "e3")},
		{name: "remove prod-eu again", cmd: member("l1", "e1", false), err: domain.ErrNotFound},
		{name: "delete prod-ap", cmd: domain.DeleteEnvironment{ID: "e3"}},
		{name: "a deleted environment cannot be added", cmd: member("l2", "e3", true), err: domain.ErrNotFound},
		{name: "a deleted member can still be removed", cmd: member("l1", "e3", false), check: logical(domain.EventLogicalMemberRemoved, "production", "every region", "e2")},
		{name: "the renamed logical environment keeps its members", cmd: save("l1", false, ptr("prod"), nil),
			check: logical(domain.EventLogicalUpdated, "prod", "every region", "e2")},
		{name: "the old name is free", cmd: save("l3", true, ptr("production"), nil), check: logical(domain.EventLogicalCreated, "production", "")},
		{name: "delete unknown", cmd: domain.DeleteLogicalEnvironment{ID: "nope"}, err: domain.ErrNotFound},
		{name: "delete", cmd: domain.DeleteLogicalEnvironment{ID: "l1"}, check: func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, domain.EventLogicalDeleted, evts[0].Type)
			assert.Equal(t, &domain.LogicalDeleted{ID: "l1", Name: "prod"}, evts[0].Data)
		}},
		{name: "delete again", cmd: domain.DeleteLogicalEnvironment{ID: "l1"}, err: domain.ErrNotFound},
		{name: "members of a deleted one", cmd: member("l1", "e2", true), err: domain.ErrNotFound},
		{name: "its name is free", cmd: save("l4", true, ptr("prod"), nil), check: logical(domain.EventLogicalCreated, "prod", "")},
	})
	l, ok := s.LogicalByName("prod")
	require.True(t, ok)
	assert.Equal(t, "l4", l.ID)
}

// recordInto marshals the decided events as the ledger stores them and
// applies them to replayed.
func recordInto(t *testing.T, replayed *domain.State, seq *uint64, evts []domain.Event) {
	t.Helper()
	for _, e := range evts {
		data, err := json.Marshal(e.Data)
		require.NoError(t, err)
		*seq++
		require.NoError(t, replayed.Apply(domain.Recorded{Seq: *seq, Type: e.Type, Org: e.Org, Aggregate: e.Aggregate,
			AggregateID: e.AggregateID, Time: now, Data: data}))
	}
}

// replayProbe is a command decided on both the deciding and the replayed
// state: the same error, or the same events that check accepts.
type replayProbe struct {
	name  string
	cmd   domain.Command
	err   error
	check func(t *testing.T, evts []domain.Event)
}

func runReplayProbes(t *testing.T, decided, replayed *domain.State, probes []replayProbe) {
	t.Helper()
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
		if p.check != nil {
			t.Run(p.name, func(t *testing.T) { p.check(t, got) })
		}
		for _, e := range want {
			decided.ApplyEvent(e)
			replayed.ApplyEvent(e)
		}
	}
}

// Replaying stored environment events (Apply of their JSON) decides as
// folding the decided events does.
func TestEnvironmentApplyFromStoredEvents(t *testing.T) {
	t.Parallel()
	api, web := envArt("api", envSha("a")), envArt("web", envSha("b"))
	scoped := envCreate("e1", "acme", "prod", "K8S")
	scoped.Fields.Scope = &domain.Scope{Exclude: domain.ScopeRules{Patterns: []string{".*-canary"}}}
	history := []domain.Command{
		scoped,
		envCreate("e2", "acme", "staging", "ECS"),
		envCreate("e3", "acme", "old", "S3"),
		envSnap("s1", "e1", api, web),
		envSnap("s2", "e1", api, counted(web, 4)),
		envSnap("s3", "e2", api),
		domain.ApproveBaseline{ID: "b1", EnvironmentID: "e1", ApprovedBy: ptr("alice")},
		domain.AddAllowlistEntry{ID: "a1", EnvironmentID: "e1", NamePattern: ptr("debug"), Reason: ptr("r"), ApprovedBy: ptr("alice")},
		domain.AddAllowlistEntry{ID: "a2", EnvironmentID: "e1", Sha256: ptr(envSha("c")), Reason: ptr("r"), ApprovedBy: ptr("alice")},
		domain.RemoveAllowlistEntry{EnvironmentID: "e1", EntryID: "a1"},
		domain.UpdateEnvironment{ID: "e2", Fields: domain.EnvironmentFields{Name: ptr("qa")}},
		domain.DeleteEnvironment{ID: "e3"},
		domain.SaveLogicalEnvironment{ID: "l1", Create: true, Name: ptr("production")},
		domain.SetLogicalMember{LogicalID: "l1", EnvironmentID: "e1", Add: true},
		domain.SetLogicalMember{LogicalID: "l1", EnvironmentID: "e2", Add: true},
		domain.SetLogicalMember{LogicalID: "l1", EnvironmentID: "e2"},
		domain.SaveLogicalEnvironment{ID: "l2", Create: true, Name: ptr("gone")},
		domain.DeleteLogicalEnvironment{ID: "l2"},
	}
	decided, replayed := domain.NewState(), domain.NewState()
	seq := uint64(0)
	for _, c := range history {
		recordInto(t, replayed, &seq, apply(t, decided, c))
	}
	index := func(want int) func(t *testing.T, evts []domain.Event) {
		t.Helper()
		return func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, want, envPayload[domain.Snapshot](t, evts[0]).SnapshotIndex)
		}
	}
	runReplayProbes(t, decided, replayed, []replayProbe{
		{name: "the same set is skipped (counts and canaries aside)", cmd: envSkip("p1", "e1", counted(api, 9), web, envArt("api-canary", envSha("d"))),
			check: func(t *testing.T, evts []domain.Event) { t.Helper(); assert.Empty(t, evts) }},
		{name: "the next index follows the replayed ones", cmd: envSkip("p2", "e1", api), check: index(3)},
		{name: "staging's next index", cmd: envSnap("p3", "e2", api), check: index(2)},
		{name: "the replayed scope filters", cmd: envSnap("p4", "e1", api, envArt("web-canary", envSha("d"))), check: func(t *testing.T, evts []domain.Event) {
			t.Helper()
			require.Len(t, evts, 1)
			assert.Equal(t, []string{"api"}, artNames(envPayload[domain.Snapshot](t, evts[0]).Artifacts))
		}},
		{name: "the baseline replaces the replayed one", cmd: domain.ApproveBaseline{ID: "b2", EnvironmentID: "e1", ApprovedBy: ptr("bob"), SnapshotID: ptr("s1")},
			check: func(t *testing.T, evts []domain.Event) {
				t.Helper()
				require.Len(t, evts, 1)
				assert.Equal(t, ptr("b1"), envPayload[domain.Baseline](t, evts[0]).Replaces)
			}},
		{name: "replayed snapshots belong to their environment", cmd: domain.ApproveBaseline{ID: "b3", EnvironmentID: "e2", ApprovedBy: ptr("bob"), SnapshotID: ptr("s1")}, err: domain.ErrNotFound},
		{name: "a removed entry stays removed", cmd: domain.RemoveAllowlistEntry{EnvironmentID: "e1", EntryID: "a1"}, err: domain.ErrConflict},
		{name: "an active entry can be removed", cmd: domain.RemoveAllowlistEntry{EnvironmentID: "e1", EntryID: "a2"}},
		{name: "the renamed environment holds its new name", cmd: envCreate("x1", "acme", "qa", "K8S"), err: domain.ErrConflict},
		{name: "and freed its old one", cmd: envCreate("x2", "acme", "staging", "K8S")},
		{name: "the deleted environment is gone", cmd: envSnap("p5", "e3", api), err: domain.ErrNotFound},
		{name: "and its name is free", cmd: envCreate("x3", "acme", "old", "K8S")},
		{name: "replayed members", cmd: domain.SetLogicalMember{LogicalID: "l1", EnvironmentID: "e1", Add: true}, err: domain.ErrConflict},
		{name: "a removed member", cmd: domain.SetLogicalMember{LogicalID: "l1", EnvironmentID: "e2"}, err: domain.ErrNotFound},
		{name: "the logical name is taken", cmd: domain.SaveLogicalEnvironment{ID: "l3", Create: true, Name: ptr("production")}, err: domain.ErrConflict},
		{name: "the deleted logical environment is gone", cmd: domain.DeleteLogicalEnvironment{ID: "l2"}, err: domain.ErrNotFound},
	})
	require.Error(t, replayed.Apply(domain.Recorded{Type: domain.EventSnapshotRecorded, Data: []byte(`{"snapshotIndex": "one"}`)}))
}

// counted sets an artifact's instance count.
func counted(a domain.SnapshotArtifact, n int) domain.SnapshotArtifact {
	a.InstanceCount = n
	return a
}

// A batch the stream refused is rolled back: snapshot indexes, baselines,
// the allow-list and names are as before.
func TestEnvironmentStateRollback(t *testing.T) {
	t.Parallel()
	s, ref := domain.NewState(), domain.NewState()
	setup := []domain.Command{
		envCreate("e1", "acme", "prod", "K8S"),
		envSnap("s1", "e1", envArt("api", envSha("a"))),
		domain.AddAllowlistEntry{ID: "a1", EnvironmentID: "e1", NamePattern: ptr("x"), Reason: ptr("r"), ApprovedBy: ptr("alice")},
	}
	for _, c := range setup {
		apply(t, s, c)
		apply(t, ref, c)
	}
	s.Commit()
	mark := s.Mark()
	for _, c := range []domain.Command{
		envSnap("s2", "e1", envArt("api", envSha("b"))),
		domain.ApproveBaseline{ID: "b1", EnvironmentID: "e1", ApprovedBy: ptr("alice")},
		domain.RemoveAllowlistEntry{EnvironmentID: "e1", EntryID: "a1"},
		domain.UpdateEnvironment{ID: "e1", Fields: domain.EnvironmentFields{Name: ptr("production")}},
		envCreate("e2", "acme", "prod", "K8S"),
		domain.SaveLogicalEnvironment{ID: "l1", Create: true, Name: ptr("production")},
	} {
		apply(t, s, c)
	}
	s.Rollback(mark)
	sameDecisions(t, s, ref, []domain.Command{
		envSkip("p1", "e1", envArt("api", envSha("a"))),
		envSnap("p2", "e1", envArt("api", envSha("c"))),
		domain.ApproveBaseline{ID: "b2", EnvironmentID: "e1", ApprovedBy: ptr("bob")},
		domain.RemoveAllowlistEntry{EnvironmentID: "e1", EntryID: "a1"},
		envCreate("e3", "acme", "prod", "K8S"),
		envCreate("e4", "acme", "production", "K8S"),
		domain.SaveLogicalEnvironment{ID: "l2", Create: true, Name: ptr("production")},
	})
	evts, err := envSnap("p3", "e1").Decide(s, now)
	require.NoError(t, err)
	assert.Equal(t, 3, envPayload[domain.Snapshot](t, evts[0]).SnapshotIndex, "s2 was rolled back; p2 is 2")
}

// noEvents checks that a command decided no events.
func noEvents(t *testing.T, evts []domain.Event) {
	t.Helper()
	assert.Empty(t, evts)
}
