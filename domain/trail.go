package domain

import (
	"encoding/json"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Trail event types. Everything that happens to a trail (its artifacts,
// attestations, evidence and status) is an event of the trail aggregate, so
// one trail's history is one record in the ledger.
const (
	EventTrailStarted       = "trail.started"
	EventTrailUpdated       = "trail.updated"
	EventTrailStatusChanged = "trail.status.changed"
)

// AggregateTrail names the trail aggregate in envelopes.
const AggregateTrail = "trail"

// Trail statuses.
const (
	TrailPending      = "PENDING"
	TrailCompliant    = "COMPLIANT"
	TrailNonCompliant = "NON_COMPLIANT"
)

// Trail is one run of a flow: a commit on its way through CI. The same
// shape is the payload of trail.started and the API's TrailResponse.
type Trail struct {
	ID                  string    `json:"id"`
	FlowID              string    `json:"flowId"`
	Name                string    `json:"name"`
	GitCommitSha        string    `json:"gitCommitSha"`
	GitBranch           string    `json:"gitBranch"`
	GitAuthor           string    `json:"gitAuthor"`
	GitAuthorEmail      string    `json:"gitAuthorEmail"`
	PullRequestID       *string   `json:"pullRequestId"`
	PullRequestReviewer *string   `json:"pullRequestReviewer"`
	DeploymentActor     *string   `json:"deploymentActor"`
	Status              string    `json:"status"`
	OrgSlug             *string   `json:"orgSlug"`
	TemplateYAML        *string   `json:"templateYaml"`
	BuildURL            *string   `json:"buildUrl"`
	Description         *string   `json:"description"`
	CreatedAt           time.Time `json:"createdAt"`
	UpdatedAt           time.Time `json:"updatedAt"`
	// Extra keeps what a Kosli client sent beyond our fields
	// (git_commit_info, repo_info, user_data, external_urls, origin_url).
	Extra map[string]json.RawMessage `json:"extra,omitempty"`
}

// Org is the trail's organisation slug, or NoOrg.
func (t *Trail) Org() string {
	if t.OrgSlug == nil {
		return NoOrg
	}
	return orgOrNone(*t.OrgSlug)
}

// TrailStatusChanged is the payload of trail.status.changed: the trail's
// status was recomputed after an event and came out different.
type TrailStatusChanged struct {
	TrailID  string    `json:"trailId"`
	FlowID   string    `json:"flowId"`
	Status   string    `json:"status"`
	Previous string    `json:"previous"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// TrailFields are the client-settable fields of a trail.
type TrailFields struct {
	FlowID              string
	Name                *string
	GitCommitSha        *string
	GitBranch           *string
	GitAuthor           *string
	GitAuthorEmail      *string
	PullRequestID       *string
	PullRequestReviewer *string
	DeploymentActor     *string
	OrgSlug             *string
	TemplateYAML        *string
	BuildURL            *string
	Description         *string
	Extra               map[string]json.RawMessage
	// Lenient makes the git fields optional (Kosli's API sends them only
	// when known).
	Lenient bool
}

// Limits on trail and attestation fields.
const (
	MaxShortLen   = 255
	MaxURLLen     = 2048
	MaxDetailsLen = 64 * 1024
)

func validateShort(field string, p *string, required bool) error {
	if p == nil || strings.TrimSpace(*p) == "" {
		if required {
			return Invalid(field, "is required")
		}
		return nil
	}
	if utf8.RuneCountInString(*p) > MaxShortLen {
		return Invalid(field, "must be at most %d characters", MaxShortLen)
	}
	return nil
}

func (f TrailFields) validate() error {
	if strings.TrimSpace(f.FlowID) == "" {
		return Invalid("flowId", "is required")
	}
	if err := validateShort("gitCommitSha", f.GitCommitSha, false); err != nil {
		return err
	}
	if f.Lenient {
		for _, p := range []**string{&f.GitCommitSha, &f.GitBranch, &f.GitAuthor, &f.GitAuthorEmail} {
			if *p == nil {
				empty := ""
				*p = &empty
			}
		}
	}
	if !f.Lenient && (f.GitCommitSha == nil || strings.TrimSpace(*f.GitCommitSha) == "") {
		return Invalid("gitCommitSha", "is required (or use the X-Factstore-CI-Context header with ciEnvironment)")
	}
	if !f.Lenient && (f.GitBranch == nil || strings.TrimSpace(*f.GitBranch) == "") {
		return Invalid("gitBranch", "is required (or use the X-Factstore-CI-Context header with ciEnvironment)")
	}
	for _, c := range []struct {
		field    string
		v        *string
		required bool
	}{
		{"gitBranch", f.GitBranch, !f.Lenient}, {"gitAuthor", f.GitAuthor, !f.Lenient}, {"gitAuthorEmail", f.GitAuthorEmail, !f.Lenient},
		{"name", f.Name, false}, {"pullRequestId", f.PullRequestID, false},
		{"pullRequestReviewer", f.PullRequestReviewer, false}, {"deploymentActor", f.DeploymentActor, false},
	} {
		if err := validateShort(c.field, c.v, c.required); err != nil {
			return err
		}
	}
	// Kosli's git_commit_info carries "Name <email>" or nothing at all.
	if email := *f.GitAuthorEmail; !f.Lenient || email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != strings.TrimSpace(email) {
			return Invalid("gitAuthorEmail", "must be an email address")
		}
	}
	if f.Description != nil && utf8.RuneCountInString(*f.Description) > MaxDescLen {
		return Invalid("description", "must be at most %d characters", MaxDescLen)
	}
	if f.BuildURL != nil && len(*f.BuildURL) > MaxURLLen {
		return Invalid("buildUrl", "must be at most %d bytes", MaxURLLen)
	}
	if f.OrgSlug != nil && *f.OrgSlug != "" && !ValidSlug(*f.OrgSlug) {
		return Invalid("orgSlug", "must be lower-case letters, digits and hyphens, 1-63 characters")
	}
	if f.TemplateYAML != nil && *f.TemplateYAML != "" {
		if len(*f.TemplateYAML) > MaxTemplateLen {
			return Invalid("templateYaml", "must be at most %d bytes", MaxTemplateLen)
		}
		if _, err := ParseComplianceTemplate(*f.TemplateYAML); err != nil {
			return err
		}
	}
	return nil
}

// BeginTrail starts a trail of a flow.
type BeginTrail struct {
	ID     string
	Fields TrailFields
}

// Build validates the fields and returns the trail the command would
// create without looking at state (dry runs use it: the flow need not
// exist). Its status is PENDING.
func (c BeginTrail) Build(now time.Time) (*Trail, error) {
	f := c.Fields
	if err := f.validate(); err != nil {
		return nil, err
	}
	if f.Lenient {
		for _, p := range []**string{&f.GitCommitSha, &f.GitBranch, &f.GitAuthor, &f.GitAuthorEmail} {
			if *p == nil {
				empty := ""
				*p = &empty
			}
		}
	}
	t := &Trail{
		ID: c.ID, FlowID: f.FlowID, Name: c.ID,
		GitCommitSha: strings.TrimSpace(*f.GitCommitSha), GitBranch: strings.TrimSpace(*f.GitBranch),
		GitAuthor: strings.TrimSpace(*f.GitAuthor), GitAuthorEmail: strings.TrimSpace(*f.GitAuthorEmail),
		PullRequestID: emptyToNil(f.PullRequestID), PullRequestReviewer: emptyToNil(f.PullRequestReviewer),
		DeploymentActor: emptyToNil(f.DeploymentActor), OrgSlug: emptyToNil(f.OrgSlug),
		TemplateYAML: emptyToNil(f.TemplateYAML), BuildURL: emptyToNil(f.BuildURL),
		Status: TrailPending, CreatedAt: now.UTC(), UpdatedAt: now.UTC(),
		Description: f.Description, Extra: f.Extra,
	}
	if f.Name != nil && strings.TrimSpace(*f.Name) != "" {
		t.Name = strings.TrimSpace(*f.Name)
	}
	return t, nil
}

// Decide implements Command. The trail's name is unique within its flow;
// its organisation is its flow's. The trail starts with the status its
// requirements give it: PENDING, or COMPLIANT when nothing is required.
func (c BeginTrail) Decide(s *State, now time.Time) ([]Event, error) {
	t, err := c.Build(now)
	if err != nil {
		return nil, err
	}
	flow, ok := s.flows[t.FlowID]
	if !ok {
		return nil, NotFound("flow", t.FlowID)
	}
	if t.OrgSlug != nil && flow.Org() != *t.OrgSlug {
		return nil, Invalid("orgSlug", "must be the flow's organisation (%s)", flow.Org())
	}
	t.OrgSlug = flow.OrgSlug
	if _, taken := s.trails[t.ID]; taken {
		return nil, Conflict("trail id %q already exists", t.ID)
	}
	if _, taken := s.trailNames[trailNameKey(t.FlowID, t.Name)]; taken {
		return nil, Conflict("flow %q already has a trail named %q", flow.Name, t.Name)
	}
	t.Status = EvaluateTrail(flow, &TrailFacts{Trail: t}).Status
	return []Event{{Type: EventTrailStarted, Org: t.Org(), Aggregate: AggregateTrail, AggregateID: t.ID, Data: t}}, nil
}

func trailNameKey(flowID, name string) string { return flowID + "/" + name }

// CI providers understood by X-Factstore-CI-Context.
var ciProviders = map[string]string{
	"github-actions": "github", "github_actions": "github",
	"gitlab-ci": "gitlab", "gitlab_ci": "gitlab",
	"jenkins":  "jenkins",
	"circleci": "circleci", "circle-ci": "circleci",
	"azure-devops": "azure", "azure_devops": "azure",
}

// CIValues are the trail fields a CI system's variables provide.
type CIValues struct {
	GitCommitSha, GitBranch, BuildURL string
}

// ResolveCIContext maps a CI provider name (the X-Factstore-CI-Context
// header, case-insensitive) and a lookup of that CI's variables to trail
// fields. ok is false for an unknown provider.
func ResolveCIContext(provider string, env func(string) string) (v CIValues, ok bool) {
	switch ciProviders[strings.ToLower(strings.TrimSpace(provider))] {
	case "github":
		v = CIValues{env("GITHUB_SHA"), env("GITHUB_REF_NAME"), ""}
		if server, repo, run := env("GITHUB_SERVER_URL"), env("GITHUB_REPOSITORY"), env("GITHUB_RUN_ID"); server != "" && repo != "" && run != "" {
			v.BuildURL = server + "/" + repo + "/actions/runs/" + run
		}
	case "gitlab":
		v = CIValues{env("CI_COMMIT_SHA"), env("CI_COMMIT_REF_NAME"), env("CI_JOB_URL")}
	case "jenkins":
		v = CIValues{env("GIT_COMMIT"), env("GIT_BRANCH"), env("BUILD_URL")}
	case "circleci":
		v = CIValues{env("CIRCLE_SHA1"), env("CIRCLE_BRANCH"), env("CIRCLE_BUILD_URL")}
	case "azure":
		v = CIValues{env("BUILD_SOURCEVERSION"), env("BUILD_SOURCEBRANCH"), ""}
		if coll, proj, id := env("SYSTEM_TEAMFOUNDATIONCOLLECTIONURI"), env("SYSTEM_TEAMPROJECT"), env("BUILD_BUILDID"); coll != "" && proj != "" && id != "" {
			v.BuildURL = coll + proj + "/_build/results?buildId=" + id
		}
	default:
		return CIValues{}, false
	}
	return v, true
}

// FillFromCI sets the commit, branch and build URL that are not given from v.
func (f *TrailFields) FillFromCI(v CIValues) {
	fill := func(p **string, val string) {
		if (*p == nil || **p == "") && val != "" {
			*p = &val
		}
	}
	fill(&f.GitCommitSha, v.GitCommitSha)
	fill(&f.GitBranch, v.GitBranch)
	fill(&f.BuildURL, v.BuildURL)
}
