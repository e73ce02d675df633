package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Environment event types. Snapshots, baselines, drift checks and the
// allow-list are events of the environment aggregate.
const (
	EventEnvironmentCreated = "environment.created"
	EventEnvironmentUpdated = "environment.updated"
	EventEnvironmentDeleted = "environment.deleted"
	EventSnapshotRecorded   = "environment.snapshot.recorded"
	EventBaselineApproved   = "environment.baseline.approved"
	EventDriftChecked       = "environment.drift.checked"
	EventAllowlistAdded     = "environment.allowlist.added"
	EventAllowlistRemoved   = "environment.allowlist.removed"
)

// AggregateEnvironment names the environment aggregate in envelopes.
const AggregateEnvironment = "environment"

// Environment types and drift policies.
var (
	EnvironmentTypes = []string{"K8S", "ECS", "LAMBDA", "S3", "DOCKER", "SERVER", "AZURE_APPS", "CLOUD_RUN", "GENERIC"}
	DriftPolicies    = []string{"IGNORE", "WARN", "BLOCK"}
)

// ScopeRules are names and full-match patterns.
type ScopeRules struct {
	Names    []string `json:"names"`
	Patterns []string `json:"patterns"`
}

// Scope narrows which reported workloads a snapshot keeps.
type Scope struct {
	Include ScopeRules `json:"include"`
	Exclude ScopeRules `json:"exclude"`
}

// Environment is where artifacts run. The same shape is the payload of
// environment.created/updated and the API's EnvironmentResponse.
type Environment struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Description string    `json:"description"`
	OrgSlug     *string   `json:"orgSlug"`
	DriftPolicy string    `json:"driftPolicy"`
	Scope       Scope     `json:"scope"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Org is the environment's organisation slug, or NoOrg.
func (e *Environment) Org() string {
	if e.OrgSlug == nil {
		return NoOrg
	}
	return orgOrNone(*e.OrgSlug)
}

func (e *Environment) scopedName() string { return e.Org() + "/" + e.Name }

// EnvironmentDeleted is the payload of environment.deleted.
type EnvironmentDeleted struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	OrgSlug *string `json:"orgSlug"`
}

// EnvironmentFields are the client-settable fields; nil means not given.
type EnvironmentFields struct {
	Name, Type, Description, OrgSlug, DriftPolicy *string
	Scope                                         *Scope
}

func oneOf(field string, v *string, allowed []string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(*v))
	for _, a := range allowed {
		if a == up {
			return up, nil
		}
	}
	return "", Invalid(field, "must be one of %s", strings.Join(allowed, ", "))
}

func validateScope(s *Scope) error {
	for _, r := range []struct {
		field string
		rules ScopeRules
	}{{"scope.include", s.Include}, {"scope.exclude", s.Exclude}} {
		if err := validateList(r.field+".names", r.rules.Names); err != nil {
			return err
		}
		if err := validateList(r.field+".patterns", r.rules.Patterns); err != nil {
			return err
		}
		for _, p := range r.rules.Patterns {
			// The pattern must stand on its own: "a)|(b" compiles only once
			// wrapped, and then no longer matches whole names.
			if _, err := regexp.Compile(p); err != nil {
				return Invalid(r.field+".patterns", "%q is not a valid regular expression: %v", p, err)
			}
			if _, err := regexp.Compile("^(?:" + p + ")$"); err != nil {
				return Invalid(r.field+".patterns", "%q is not a valid regular expression: %v", p, err)
			}
		}
	}
	return nil
}

// apply validates f and sets the given fields on e.
func (f EnvironmentFields) apply(e *Environment, create bool) error {
	if create || f.Name != nil {
		if err := validateShort("name", f.Name, true); err != nil {
			return err
		}
		e.Name = strings.TrimSpace(*f.Name)
	}
	if create || f.Type != nil {
		if f.Type == nil {
			return Invalid("type", "is required")
		}
		t, err := oneOf("type", f.Type, EnvironmentTypes)
		if err != nil {
			return err
		}
		e.Type = t
	}
	if f.DriftPolicy != nil {
		p, err := oneOf("driftPolicy", f.DriftPolicy, DriftPolicies)
		if err != nil {
			return err
		}
		e.DriftPolicy = p
	} else if create {
		e.DriftPolicy = "WARN"
	}
	if f.Description != nil {
		if utf8.RuneCountInString(*f.Description) > MaxDescLen {
			return Invalid("description", "must be at most %d characters", MaxDescLen)
		}
		e.Description = *f.Description
	}
	if f.OrgSlug != nil {
		if *f.OrgSlug != "" && !ValidSlug(*f.OrgSlug) {
			return Invalid("orgSlug", "must be lower-case letters, digits and hyphens, 1-63 characters")
		}
		e.OrgSlug = emptyToNil(f.OrgSlug)
	}
	if f.Scope != nil {
		if err := validateScope(f.Scope); err != nil {
			return err
		}
		e.Scope = *f.Scope
	}
	e.Scope.Include.Names, e.Scope.Include.Patterns = orEmpty(e.Scope.Include.Names), orEmpty(e.Scope.Include.Patterns)
	e.Scope.Exclude.Names, e.Scope.Exclude.Patterns = orEmpty(e.Scope.Exclude.Names), orEmpty(e.Scope.Exclude.Patterns)
	return nil
}

// CreateEnvironment defines an environment.
type CreateEnvironment struct {
	ID     string
	Fields EnvironmentFields
}

// Build validates and returns the environment, without looking at state.
func (c CreateEnvironment) Build(now time.Time) (*Environment, error) {
	e := &Environment{ID: c.ID, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	if err := c.Fields.apply(e, true); err != nil {
		return nil, err
	}
	return e, nil
}

// Decide implements Command. Names are unique within an organisation.
func (c CreateEnvironment) Decide(s *State, now time.Time) ([]Event, error) {
	e, err := c.Build(now)
	if err != nil {
		return nil, err
	}
	if _, taken := s.envNames[e.scopedName()]; taken {
		return nil, Conflict("an environment named %q already exists", e.Name)
	}
	return []Event{{Type: EventEnvironmentCreated, Org: e.Org(), Aggregate: AggregateEnvironment, AggregateID: e.ID, Data: e}}, nil
}

// UpdateEnvironment changes the given fields.
type UpdateEnvironment struct {
	ID     string
	Fields EnvironmentFields
}

// Decide implements Command.
func (c UpdateEnvironment) Decide(s *State, now time.Time) ([]Event, error) {
	cur, ok := s.envs[c.ID]
	if !ok {
		return nil, NotFound("environment", c.ID)
	}
	e := *cur.env
	if err := c.Fields.apply(&e, false); err != nil {
		return nil, err
	}
	if id, taken := s.envNames[e.scopedName()]; taken && id != e.ID {
		return nil, Conflict("an environment named %q already exists", e.Name)
	}
	if reflect.DeepEqual(e, *cur.env) {
		return nil, nil // nothing changes: no event
	}
	e.UpdatedAt = now.UTC()
	return []Event{{Type: EventEnvironmentUpdated, Org: e.Org(), Aggregate: AggregateEnvironment, AggregateID: e.ID, Data: &e}}, nil
}

// DeleteEnvironment removes an environment from the read models; its
// snapshots stay in the ledger.
type DeleteEnvironment struct{ ID string }

// Decide implements Command.
func (c DeleteEnvironment) Decide(s *State, _ time.Time) ([]Event, error) {
	cur, ok := s.envs[c.ID]
	if !ok {
		return nil, NotFound("environment", c.ID)
	}
	e := cur.env
	return []Event{{Type: EventEnvironmentDeleted, Org: e.Org(), Aggregate: AggregateEnvironment, AggregateID: e.ID,
		Data: &EnvironmentDeleted{ID: e.ID, Name: e.Name, OrgSlug: e.OrgSlug}}}, nil
}

// SnapshotArtifact is one workload running in an environment.
type SnapshotArtifact struct {
	ArtifactSha256 string `json:"artifactSha256"`
	ArtifactName   string `json:"artifactName"`
	ArtifactTag    string `json:"artifactTag"`
	InstanceCount  int    `json:"instanceCount"`
	// Instances, when the report listed them (Kosli's do: one entry per
	// pod, task, function ...), say when each instance started and where it
	// runs; InstanceCount is then their number.
	Instances []SnapshotInstance `json:"instances,omitempty"`
}

// SnapshotInstance is one reported instance of a running artifact.
type SnapshotInstance struct {
	// CreatedAt is when it started, in Unix seconds as the reporter gave it
	// (0 or negative when the platform did not say).
	CreatedAt int64 `json:"createdAt"`
	// Context is what the report said about the instance besides its
	// artifacts and time, as a JSON object: a pod's podName, namespace and
	// owners, an ECS task's taskArn, cluster_name and service_name, and so
	// on. It is kept for display, never interpreted.
	Context json.RawMessage `json:"context,omitempty"`
}

// MaxInstanceContext bounds what one instance's context may hold.
const MaxInstanceContext = 8 << 10

// Snapshot is what ran in an environment when it was reported: the
// payload of environment.snapshot.recorded.
type Snapshot struct {
	ID            string             `json:"id"`
	EnvironmentID string             `json:"environmentId"`
	SnapshotIndex int                `json:"snapshotIndex"`
	RecordedAt    time.Time          `json:"recordedAt"`
	RecordedBy    string             `json:"recordedBy"`
	Artifacts     []SnapshotArtifact `json:"artifacts"`
	// Excluded counts the reported workloads the scope left out.
	Excluded int `json:"excluded"`
}

// MaxSnapshotArtifacts bounds one snapshot.
const MaxSnapshotArtifacts = 100_000

// RecordSnapshot records what runs in an environment now.
type RecordSnapshot struct {
	ID            string
	EnvironmentID string
	RecordedBy    *string
	Artifacts     []SnapshotArtifact
	// AllowEmptyDigest accepts workloads whose digest could not be found
	// (Kosli's ECS, Azure and Cloud Run reports).
	AllowEmptyDigest bool
	// SkipUnchanged records nothing when the set of (name, digest) equals
	// the latest snapshot's (Kosli's rule: counts and times alone do not
	// make a new snapshot).
	SkipUnchanged bool
}

// Decide implements Command. Artifacts outside the environment's scope are
// dropped; the index is one more than the environment's last.
func (c RecordSnapshot) Decide(s *State, now time.Time) ([]Event, error) {
	if err := validateShort("recordedBy", c.RecordedBy, true); err != nil {
		return nil, err
	}
	if len(c.Artifacts) > MaxSnapshotArtifacts {
		return nil, Invalid("artifacts", "at most %d artifacts", MaxSnapshotArtifacts)
	}
	arts := make([]SnapshotArtifact, 0, len(c.Artifacts))
	for i, a := range c.Artifacts {
		d, ok := NormalizeDigest(a.ArtifactSha256)
		if !ok && (!c.AllowEmptyDigest || a.ArtifactSha256 != "") {
			return nil, Invalid("artifacts", "[%d].artifactSha256 must be sha256: followed by 64 hex digits", i)
		}
		if strings.TrimSpace(a.ArtifactName) == "" || len(a.ArtifactName) > MaxShortLen || len(a.ArtifactTag) > MaxShortLen {
			return nil, Invalid("artifacts", "[%d].artifactName is required (at most %d bytes, as is artifactTag)", i, MaxShortLen)
		}
		if a.InstanceCount < 0 {
			return nil, Invalid("artifacts", "[%d].instanceCount must not be negative", i)
		}
		for j, in := range a.Instances {
			if len(in.Context) > MaxInstanceContext {
				return nil, Invalid("artifacts", "[%d].instances[%d].context is over %d bytes", i, j, MaxInstanceContext)
			}
			if c := in.Context; len(c) > 0 && (c[0] != '{' || !json.Valid(c)) {
				return nil, Invalid("artifacts", "[%d].instances[%d].context must be a JSON object", i, j)
			}
		}
		if len(a.Instances) > 0 {
			a.InstanceCount = len(a.Instances)
		}
		a.ArtifactSha256, a.ArtifactName = d, strings.TrimSpace(a.ArtifactName)
		if a.InstanceCount == 0 {
			a.InstanceCount = 1
		}
		arts = append(arts, a)
	}
	cur, ok := s.envs[c.EnvironmentID]
	if !ok {
		return nil, NotFound("environment", c.EnvironmentID)
	}
	in := cur.env.Scope.compile(cur.env.Type)
	kept := arts[:0]
	for _, a := range arts {
		if in(a.ArtifactName) {
			kept = append(kept, a)
		}
	}
	if c.SkipUnchanged && cur.lastIndex > 0 && setKey(kept) == cur.lastSet {
		return nil, nil
	}
	snap := &Snapshot{ID: c.ID, EnvironmentID: c.EnvironmentID, SnapshotIndex: cur.lastIndex + 1, RecordedAt: now.UTC(),
		RecordedBy: strings.TrimSpace(*c.RecordedBy), Artifacts: kept, Excluded: len(arts) - len(kept)}
	return []Event{{Type: EventSnapshotRecorded, Org: cur.env.Org(), Aggregate: AggregateEnvironment, AggregateID: c.EnvironmentID, Data: snap}}, nil
}

// setKey identifies a snapshot's set of (name, digest) pairs.
func setKey(arts []SnapshotArtifact) string {
	pairs := make([]string, len(arts))
	for i, a := range arts {
		pairs[i] = a.ArtifactName + "\x00" + a.ArtifactSha256
	}
	slices.Sort(pairs)
	pairs = slices.Compact(pairs)
	sum := sha256.Sum256([]byte(strings.Join(pairs, "\n")))
	return hex.EncodeToString(sum[:])
}

// RecordSnapshotByName records a snapshot of an organisation's
// environment addressed by name.
type RecordSnapshotByName struct {
	Org, Environment string
	Snapshot         RecordSnapshot
}

// Decide implements Command.
func (c RecordSnapshotByName) Decide(s *State, now time.Time) ([]Event, error) {
	if err := s.orgExists(c.Org); err != nil {
		return nil, err
	}
	id, ok := s.envNames[c.Org+"/"+c.Environment]
	if !ok {
		return nil, NotFound("environment", c.Environment)
	}
	r := c.Snapshot
	r.EnvironmentID = id
	return r.Decide(s, now)
}

// compile returns the scope as a predicate over workload names (§3.7):
// S3 and GENERIC ignore scope, DOCKER uses names only; patterns match the
// whole name; no include rules include everything; exclude wins.
func (sc Scope) compile(envType string) func(string) bool {
	if envType == "S3" || envType == "GENERIC" {
		return func(string) bool { return true }
	}
	usePatterns := envType != "DOCKER"
	match := func(r ScopeRules, name string) bool {
		for _, n := range r.Names {
			if n == name {
				return true
			}
		}
		if usePatterns {
			for _, p := range r.Patterns {
				if re, err := regexp.Compile("^(?:" + p + ")$"); err == nil && re.MatchString(name) {
					return true
				}
			}
		}
		return false
	}
	hasInclude := len(sc.Include.Names) > 0 || (usePatterns && len(sc.Include.Patterns) > 0)
	return func(name string) bool {
		if match(sc.Exclude, name) {
			return false
		}
		return !hasInclude || match(sc.Include, name)
	}
}

// Baseline is the approved state of an environment: the payload of
// environment.baseline.approved.
type Baseline struct {
	ID            string    `json:"id"`
	EnvironmentID string    `json:"environmentId"`
	SnapshotID    *string   `json:"snapshotId"`
	SnapshotIndex *int      `json:"snapshotIndex"`
	ApprovedBy    string    `json:"approvedBy"`
	ApprovedAt    time.Time `json:"approvedAt"`
	Description   *string   `json:"description"`
	IsActive      bool      `json:"isActive"`
	// Replaces is the baseline this one deactivated.
	Replaces *string `json:"replaces"`
}

// ApproveBaseline makes a snapshot (default: the latest) the environment's
// baseline, deactivating the previous one.
type ApproveBaseline struct {
	ID            string
	EnvironmentID string
	SnapshotID    *string
	ApprovedBy    *string
	Description   *string
}

// Decide implements Command.
func (c ApproveBaseline) Decide(s *State, now time.Time) ([]Event, error) {
	if err := validateShort("approvedBy", c.ApprovedBy, true); err != nil {
		return nil, err
	}
	if c.Description != nil && len(*c.Description) > MaxDescLen {
		return nil, Invalid("description", "must be at most %d bytes", MaxDescLen)
	}
	cur, ok := s.envs[c.EnvironmentID]
	if !ok {
		return nil, NotFound("environment", c.EnvironmentID)
	}
	b := &Baseline{ID: c.ID, EnvironmentID: c.EnvironmentID, ApprovedBy: strings.TrimSpace(*c.ApprovedBy), ApprovedAt: now.UTC(),
		Description: c.Description, IsActive: true}
	switch {
	case c.SnapshotID != nil && *c.SnapshotID != "":
		ref, ok := s.snapshots[*c.SnapshotID]
		if !ok || ref.env != c.EnvironmentID {
			return nil, NotFound("snapshot", *c.SnapshotID)
		}
		id, idx := *c.SnapshotID, ref.index
		b.SnapshotID, b.SnapshotIndex = &id, &idx
	case cur.lastIndex > 0:
		id, idx := cur.lastSnapshot, cur.lastIndex
		b.SnapshotID, b.SnapshotIndex = &id, &idx
	}
	if cur.baseline != "" {
		prev := cur.baseline
		b.Replaces = &prev
	}
	return []Event{{Type: EventBaselineApproved, Org: cur.env.Org(), Aggregate: AggregateEnvironment, AggregateID: c.EnvironmentID, Data: b}}, nil
}

// DriftEntry is one workload that differs between two snapshots.
type DriftEntry struct {
	ArtifactName string  `json:"artifactName"`
	ArtifactTag  string  `json:"artifactTag"`
	Sha256From   *string `json:"sha256From"`
	Sha256To     *string `json:"sha256To"`
}

// DriftReport compares an environment's baseline with a snapshot: the
// payload of environment.drift.checked.
type DriftReport struct {
	ID            string       `json:"id"`
	EnvironmentID string       `json:"environmentId"`
	BaselineID    string       `json:"baselineId"`
	SnapshotID    string       `json:"snapshotId"`
	SnapshotIndex int          `json:"snapshotIndex"`
	GeneratedAt   time.Time    `json:"generatedAt"`
	DriftPolicy   string       `json:"driftPolicy"`
	HasDrift      bool         `json:"hasDrift"`
	Blocking      bool         `json:"blocking"`
	Added         []DriftEntry `json:"added"`
	Removed       []DriftEntry `json:"removed"`
	Updated       []DriftEntry `json:"updated"`
	// Allowed are differences the allow-list excuses.
	Allowed []DriftEntry `json:"allowed"`
}

// RecordDriftCheck appends a drift report computed on the read models.
type RecordDriftCheck struct{ Report DriftReport }

// Decide implements Command.
func (c RecordDriftCheck) Decide(s *State, now time.Time) ([]Event, error) {
	cur, ok := s.envs[c.Report.EnvironmentID]
	if !ok {
		return nil, NotFound("environment", c.Report.EnvironmentID)
	}
	r := c.Report
	r.GeneratedAt = now.UTC()
	return []Event{{Type: EventDriftChecked, Org: cur.env.Org(), Aggregate: AggregateEnvironment, AggregateID: r.EnvironmentID, Data: &r}}, nil
}

// AllowlistEntry excuses an artifact (by digest, or by a pattern found in
// its name) from drift and gates until it expires or is removed.
type AllowlistEntry struct {
	ID            string     `json:"id"`
	EnvironmentID string     `json:"environmentId"`
	Sha256        *string    `json:"sha256"`
	NamePattern   *string    `json:"namePattern"`
	Reason        string     `json:"reason"`
	ApprovedBy    string     `json:"approvedBy"`
	CreatedAt     time.Time  `json:"createdAt"`
	ExpiresAt     *time.Time `json:"expiresAt"`
	Status        string     `json:"status"`
	RemovedAt     *time.Time `json:"removedAt,omitempty"`
}

// Allow-list entry statuses.
const (
	AllowlistStatusActive  = "ACTIVE"
	AllowlistStatusRemoved = "REMOVED"
)

// EffectiveAt reports whether the entry counts at t.
func (a *AllowlistEntry) EffectiveAt(t time.Time) bool {
	return a.Status == AllowlistStatusActive && (a.ExpiresAt == nil || t.Before(*a.ExpiresAt))
}

// Matches reports whether the entry names an artifact: the same digest,
// or the pattern found anywhere in its name.
func (a *AllowlistEntry) Matches(sha, name string) bool {
	if a.Sha256 != nil && *a.Sha256 == sha {
		return true
	}
	if a.NamePattern != nil {
		if re, err := regexp.Compile(*a.NamePattern); err == nil && re.MatchString(name) {
			return true
		}
	}
	return false
}

// AddAllowlistEntry adds an allow-list entry to an environment.
type AddAllowlistEntry struct {
	ID            string
	EnvironmentID string
	Sha256        *string
	NamePattern   *string
	Reason        *string
	ApprovedBy    *string
	ExpiresAt     *time.Time
}

// Decide implements Command.
func (c AddAllowlistEntry) Decide(s *State, now time.Time) ([]Event, error) {
	sha, pattern := emptyToNil(c.Sha256), emptyToNil(c.NamePattern)
	if sha == nil && pattern == nil {
		return nil, Invalid("sha256", "give sha256 or namePattern (or both)")
	}
	if sha != nil {
		d, ok := NormalizeDigest(*sha)
		if !ok {
			return nil, Invalid("sha256", "must be sha256: followed by 64 hex digits")
		}
		sha = &d
	}
	if pattern != nil {
		if len(*pattern) > MaxShortLen {
			return nil, Invalid("namePattern", "must be at most %d bytes", MaxShortLen)
		}
		if _, err := regexp.Compile(*pattern); err != nil {
			return nil, Invalid("namePattern", "is not a valid regular expression: %v", err)
		}
	}
	if err := validateShort("reason", c.Reason, true); err != nil {
		return nil, err
	}
	if err := validateShort("approvedBy", c.ApprovedBy, true); err != nil {
		return nil, err
	}
	cur, ok := s.envs[c.EnvironmentID]
	if !ok {
		return nil, NotFound("environment", c.EnvironmentID)
	}
	e := &AllowlistEntry{ID: c.ID, EnvironmentID: c.EnvironmentID, Sha256: sha, NamePattern: pattern,
		Reason: strings.TrimSpace(*c.Reason), ApprovedBy: strings.TrimSpace(*c.ApprovedBy), CreatedAt: now.UTC(),
		ExpiresAt: c.ExpiresAt, Status: AllowlistStatusActive}
	return []Event{{Type: EventAllowlistAdded, Org: cur.env.Org(), Aggregate: AggregateEnvironment, AggregateID: c.EnvironmentID, Data: e}}, nil
}

// AllowlistRemoved is the payload of environment.allowlist.removed.
type AllowlistRemoved struct {
	ID            string    `json:"id"`
	EnvironmentID string    `json:"environmentId"`
	RemovedAt     time.Time `json:"removedAt"`
}

// RemoveAllowlistEntry soft-deletes an entry; removing it again conflicts.
type RemoveAllowlistEntry struct {
	EnvironmentID, EntryID string
}

// Decide implements Command.
func (c RemoveAllowlistEntry) Decide(s *State, now time.Time) ([]Event, error) {
	cur, ok := s.envs[c.EnvironmentID]
	if !ok {
		return nil, NotFound("environment", c.EnvironmentID)
	}
	st, ok := s.allowlist[c.EntryID]
	if !ok || st.env != c.EnvironmentID {
		return nil, NotFound("allow-list entry", c.EntryID)
	}
	if st.removed {
		return nil, Conflict("allow-list entry %q is already removed", c.EntryID)
	}
	return []Event{{Type: EventAllowlistRemoved, Org: cur.env.Org(), Aggregate: AggregateEnvironment, AggregateID: c.EnvironmentID,
		Data: &AllowlistRemoved{ID: c.EntryID, EnvironmentID: c.EnvironmentID, RemovedAt: now.UTC()}}}, nil
}
