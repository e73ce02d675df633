package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/mail"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/policy/custom"
	"github.com/factstore/factstore/policy/envpolicy"
)

// The Kosli-compatible door (/api/v2/... as the kosli CLI v2.38 calls it).
// It maps every request onto the same commands, events and read models as
// /api/v1: a trail begun here is the same trail there and in audit.

// kosliAttestRoute names the attestation route, whose body may carry an
// evidence file as large as the evidence limit.
const kosliAttestRoute = "kosli-attest"

// kosliErrorBody is an error the kosli CLI can print: message, and the
// field errors it shows as a map; our usual fields come along.
type kosliErrorBody struct {
	errorBody
	Errors map[string]string `json:"errors,omitempty"`
}

// writeKosliError answers an error the way the kosli CLI reads it. The CLI
// retries 409, 429 and 5xx, so a permanent conflict is a 400 here.
func writeKosliError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status == http.StatusConflict {
		status = http.StatusBadRequest
	}
	body := kosliErrorBody{errorBody: errorBodyFor(w, r, err, status)}
	var fe *domain.FieldError
	if errors.As(renameFields(err, nil), &fe) {
		body.Message = "Input payload validation failed"
		body.Errors = map[string]string{fe.Field: fe.Reason}
	}
	writeJSON(w, status, body)
}

// Kosli's names for the fields our commands check, so that the CLI's
// error map names what the user sent.
var (
	commonFields = map[string]string{"sha256Digest": "fingerprint", "imageName": "filename", "templateYaml": "template_file",
		"artifactFingerprint": "artifact_fingerprint", "templateReferenceName": "template_reference_name"}
	attestationFields = map[string]string{"name": "attestation_name", "type": "type_name",
		"artifactFingerprint": "artifact_fingerprint", "details": "data_json", "targetArtifacts": "target_artifacts"}
)

// renameFields names a field error's field as the Kosli request did.
func renameFields(err error, names map[string]string) error {
	var fe *domain.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	if n, ok := names[fe.Field]; ok {
		return &domain.FieldError{Field: n, Reason: fe.Reason}
	}
	if n, ok := commonFields[fe.Field]; ok {
		return &domain.FieldError{Field: n, Reason: fe.Reason}
	}
	return err
}

// kosliForm is a multipart request: the JSON part (data_json, or payload
// for policies) and the file parts.
type kosliForm struct {
	data  json.RawMessage
	files map[string]kosliFile
}

type kosliFile struct {
	name string
	body []byte
}

// readKosliForm reads a multipart body whose JSON part is jsonPart.
func readKosliForm(r *http.Request, jsonPart string) (*kosliForm, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("%w: expected multipart/form-data: %w", errBadJSON, err)
	}
	f := &kosliForm{files: map[string]kosliFile{}}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, multipartErr(err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			return nil, multipartErr(err)
		}
		if part.FormName() == jsonPart {
			f.data = body
		} else if part.FormName() != "" {
			f.files[part.FormName()] = kosliFile{name: part.FileName(), body: body}
		}
	}
	if f.data == nil {
		return nil, domain.Invalid(jsonPart, "is required")
	}
	return f, nil
}

func multipartErr(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return tooLarge
	}
	return fmt.Errorf("%w: multipart body: %w", errBadJSON, err)
}

// decodeKosliJSON decodes a JSON part strictly enough to report wrong types.
func decodeKosliJSON(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fmt.Errorf("%w: field %q must be %s", errBadJSON, typeErr.Field, typeErr.Type)
		}
		return fmt.Errorf("%w: %w", errBadJSON, err)
	}
	return nil
}

// extras returns the raw JSON of the keys of obj not in known.
func extras(obj []byte, known ...string) map[string]json.RawMessage {
	var all map[string]json.RawMessage
	if json.Unmarshal(obj, &all) != nil {
		return nil
	}
	for _, k := range known {
		delete(all, k)
	}
	if len(all) == 0 {
		return nil
	}
	return all
}

// createdOr200 answers 201 when the first event created something, 200
// when it updated, with the event's payload; Kosli prints "created" or
// "updated" from the status.
func createdOr200(w http.ResponseWriter, out written) {
	if len(out.res.Events) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	status := http.StatusOK
	switch t := out.res.Events[0].Type; {
	case strings.HasSuffix(t, ".created"), t == domain.EventTrailStarted, t == domain.EventSnapshotRecorded,
		t == domain.EventArtifactReported, t == domain.EventAttestationRecorded:
		status = http.StatusCreated
	case t == domain.EventPolicySaved, t == domain.EventAttestationTypeSaved:
		var v struct {
			Version int `json:"version"`
		}
		_ = json.Unmarshal(out.res.Events[0].Data, &v)
		if v.Version == 1 {
			status = http.StatusCreated
		}
	}
	if out.dryRun {
		status = http.StatusOK
	}
	writeRaw(w, status, out.res.Events[0].Data)
}

// kosliWrite runs a command and answers like createdOr200.
func (s *Server) kosliWrite(w http.ResponseWriter, r *http.Request, cmd domain.Command) {
	out, err := s.write(w, r, cmd)
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	createdOr200(w, out)
}

// kosliFlowBody is the JSON of PUT /api/v2/flows/{org} and the data_json
// of the template_file variant.
type kosliFlowBody struct {
	Name        string   `json:"name"`
	Description *string  `json:"description"`
	Template    []string `json:"template"`
}

func (s *Server) kosliPutFlow(w http.ResponseWriter, r *http.Request) {
	var b kosliFlowBody
	if err := decodeJSON(r, &b); err != nil {
		writeKosliError(w, r, err)
		return
	}
	// The legacy template lists required attestation names; "artifact"
	// is the CLI's placeholder for the artifact itself.
	var required []string
	for _, t := range b.Template {
		if t != "artifact" {
			required = append(required, t)
		}
	}
	if required == nil {
		required = []string{}
	}
	s.kosliWrite(w, r, domain.SaveFlowByName{ID: newID(), Org: mux.Vars(r)["org"], Name: b.Name, Description: b.Description, RequiredTypes: required})
}

func (s *Server) kosliPutFlowTemplate(w http.ResponseWriter, r *http.Request) {
	form, err := readKosliForm(r, "data_json")
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	var b kosliFlowBody
	if err := decodeKosliJSON(form.data, &b); err != nil {
		writeKosliError(w, r, err)
		return
	}
	cmd := domain.SaveFlowByName{ID: newID(), Org: mux.Vars(r)["org"], Name: b.Name, Description: b.Description}
	if f, ok := form.files["template_file"]; ok {
		tmpl := string(f.body)
		cmd.TemplateYAML = &tmpl
	}
	s.kosliWrite(w, r, cmd)
}

// gitCommitInfo is Kosli's git_commit_info.
type gitCommitInfo struct {
	Sha1      string `json:"sha1"`
	Message   string `json:"message"`
	Author    string `json:"author"`
	Timestamp any    `json:"timestamp"`
	Branch    string `json:"branch"`
	URL       string `json:"url"`
}

// author splits "Name <email>".
func (g *gitCommitInfo) author() (name, email string) {
	if a, err := mail.ParseAddress(g.Author); err == nil {
		return a.Name, a.Address
	}
	return g.Author, ""
}

// kosliTrailBody is the data_json of PUT /api/v2/trails/{org}/{flow}.
type kosliTrailBody struct {
	Name          string         `json:"name"`
	Description   *string        `json:"description"`
	GitCommitInfo *gitCommitInfo `json:"git_commit_info"`
}

func (s *Server) kosliPutTrail(w http.ResponseWriter, r *http.Request) {
	form, err := readKosliForm(r, "data_json")
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	var b kosliTrailBody
	if err := decodeKosliJSON(form.data, &b); err != nil {
		writeKosliError(w, r, err)
		return
	}
	name := b.Name
	f := domain.TrailFields{Name: &name, Description: b.Description, Extra: extras(form.data, "name", "description")}
	if g := b.GitCommitInfo; g != nil {
		author, email := g.author()
		f.GitCommitSha, f.GitBranch, f.GitAuthor, f.GitAuthorEmail = &g.Sha1, &g.Branch, &author, &email
	}
	if tf, ok := form.files["template_file"]; ok {
		tmpl := string(tf.body)
		f.TemplateYAML = &tmpl
	}
	v := mux.Vars(r)
	s.kosliWrite(w, r, domain.SaveTrailByName{ID: newID(), Org: v["org"], FlowName: v["flow"], Fields: f})
}

// kosliArtifactBody is the JSON of POST /api/v2/artifacts/{org}/{flow}.
type kosliArtifactBody struct {
	Fingerprint           string `json:"fingerprint"`
	Filename              string `json:"filename"`
	TemplateReferenceName string `json:"template_reference_name"`
	TrailName             string `json:"trail_name"`
}

func (s *Server) kosliReportArtifact(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		writeKosliError(w, r, multipartErr(err))
		return
	}
	var b kosliArtifactBody
	if err := decodeKosliJSON(raw, &b); err != nil {
		writeKosliError(w, r, err)
		return
	}
	if b.TrailName == "" {
		writeKosliError(w, r, domain.Invalid("trail_name", "is required"))
		return
	}
	name := b.Filename
	if name == "" {
		name = b.TemplateReferenceName
	}
	fp, tmpl := b.Fingerprint, b.TemplateReferenceName
	v := mux.Vars(r)
	s.kosliWrite(w, r, domain.ReportArtifactByName{Org: v["org"], FlowName: v["flow"], Trail: b.TrailName,
		Report: domain.ReportArtifact{ID: newID(), Actor: actorOf(r), Fields: domain.ArtifactFields{
			ImageName: &name, Sha256Digest: &fp, TemplateName: &tmpl, TagOptional: true,
			Extra: extras(raw, "fingerprint", "template_reference_name", "trail_name"),
		}}})
}

// kosliAttestationBody is the common part of an attestation's data_json.
type kosliAttestationBody struct {
	AttestationName     string   `json:"attestation_name"`
	ArtifactFingerprint string   `json:"artifact_fingerprint"`
	TargetArtifacts     []string `json:"target_artifacts"`
	IsCompliant         *bool    `json:"is_compliant"`
	Description         string   `json:"description"`
	TypeName            string   `json:"type_name"`
	AttestationData     any      `json:"attestation_data"`
	JunitResults        []struct {
		Failures, Errors float64
	} `json:"junit_results"`
	SnykResults *struct {
		Results []struct {
			HighCount   float64 `json:"high_count"`
			MediumCount float64 `json:"medium_count"`
		} `json:"results"`
	} `json:"snyk_results"`
	PullRequests []json.RawMessage `json:"pull_requests"`
}

// kosliVerdict decides an attestation's status the way Kosli does for its
// type: generic and the others as the client says; junit from failures
// and errors; snyk from high and medium results; pull_request from whether
// a pull request was found; custom from the type's jq rules.
func (s *Server) kosliVerdict(r *http.Request, org, typ string, b *kosliAttestationBody) (status, details string, err error) {
	pass := func(ok bool) string {
		if ok {
			return domain.AttestationPassed
		}
		return domain.AttestationFailed
	}
	switch typ {
	case "junit":
		bad := 0.0
		for _, s := range b.JunitResults {
			bad += s.Failures + s.Errors
		}
		return pass(bad == 0), fmt.Sprintf(`{"failuresAndErrors":%v,"suites":%d}`, bad, len(b.JunitResults)), nil
	case "snyk":
		bad := 0.0
		if b.SnykResults != nil {
			for _, res := range b.SnykResults.Results {
				bad += res.HighCount + res.MediumCount
			}
		}
		return pass(bad == 0), fmt.Sprintf(`{"highAndMedium":%v}`, bad), nil
	case "pull_request":
		return pass(len(b.PullRequests) > 0), fmt.Sprintf(`{"pullRequests":%d}`, len(b.PullRequests)), nil
	case "custom":
		if b.TypeName == "" {
			return "", "", domain.Invalid("type_name", "is required")
		}
		t, err := s.cfg.Store.AttestationType(org, b.TypeName)
		if err != nil {
			return "", "", err
		}
		var def custom.Type
		if err = json.Unmarshal(t.Definition, &def); err != nil {
			return "", "", fmt.Errorf("httpapi: attestation type %s: %w", b.TypeName, err)
		}
		res, err := def.Evaluate(r.Context(), b.AttestationData)
		if err != nil {
			if errors.Is(err, custom.ErrInvalid) {
				return "", "", domain.Invalid("attestation_data", "%v", err)
			}
			return "", "", err
		}
		d, _ := json.Marshal(res)
		return pass(res.Compliant), string(d), nil
	}
	if b.IsCompliant != nil {
		return pass(*b.IsCompliant), "", nil
	}
	return domain.AttestationPassed, "", nil
}

var kosliAttestationTypes = map[string]bool{"generic": true, "junit": true, "snyk": true, "pull_request": true,
	"jira": true, "sonar": true, "decision": true, "override": true, "custom": true}

func (s *Server) kosliAttest(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	typ := v["type"]
	if !kosliAttestationTypes[typ] {
		writeKosliError(w, r, domain.NotFound("attestation type", typ))
		return
	}
	form, err := readKosliForm(r, "data_json")
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	var b kosliAttestationBody
	if err = decodeKosliJSON(form.data, &b); err != nil {
		writeKosliError(w, r, err)
		return
	}
	if strings.TrimSpace(b.AttestationName) == "" {
		writeKosliError(w, r, domain.Invalid("attestation_name", "required"))
		return
	}
	status, details, err := s.kosliVerdict(r, v["org"], typ, &b)
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	attType := typ
	if typ == "custom" {
		attType = "custom:" + b.TypeName
	}
	fields := domain.AttestationFields{Type: &attType, Status: &status, Name: &b.AttestationName, TargetArtifacts: b.TargetArtifacts,
		Extra: extras(form.data, "attestation_name", "artifact_fingerprint", "target_artifacts", "is_compliant")}
	if details != "" {
		fields.Details = &details
	}
	if b.ArtifactFingerprint != "" {
		fields.ArtifactFingerprint = &b.ArtifactFingerprint
	}
	cmd := domain.RecordAttestationByName{Org: v["org"], FlowName: v["flow"], Trail: v["trail"],
		Record: domain.RecordAttestation{ID: newID(), Fields: fields}}
	if f, ok := form.files["attachment_file"]; ok {
		// The attachment is the attestation's evidence, recorded in the same
		// append; it is checked in full before the file is stored.
		if int64(len(f.body)) > s.cfg.MaxEvidenceBytes {
			writeKosliError(w, r, &http.MaxBytesError{Limit: s.cfg.MaxEvidenceBytes})
			return
		}
		digest := sha256.Sum256(f.body)
		name := filepath.Base(f.name)
		if f.name == "" {
			name = "attachment"
		}
		cmd.Record.Evidence = &domain.Evidence{ID: newID(), FileName: name, SHA256Hash: hex.EncodeToString(digest[:]),
			FileSizeBytes: int64(len(f.body)), ContentType: "application/octet-stream"}
		if !isDryRun(r) {
			if err = s.precheck(r, cmd); err != nil {
				writeKosliError(w, r, renameFields(err, attestationFields))
				return
			}
			if err = s.cfg.Evidence.Put(r.Context(), cmd.Record.Evidence.SHA256Hash, "application/octet-stream", bytes.NewReader(f.body)); err != nil {
				writeKosliError(w, r, err)
				return
			}
		}
	}
	out, err := s.write(w, r, cmd)
	if err != nil {
		writeKosliError(w, r, renameFields(err, attestationFields))
		return
	}
	createdOr200(w, out)
}

// trailHasDigest reports whether the trail (by name or id) of an
// organisation's flow reported an artifact with digest.
func (s *Server) trailHasDigest(org, flowName, trail, digest string) bool {
	flow, err := s.cfg.Store.FlowByName(org, flowName)
	if err != nil {
		return false
	}
	t, err := s.cfg.Store.TrailByName(flow.ID, trail)
	if err != nil {
		if t, err = s.cfg.Store.Trail(trail); err != nil || t.FlowID != flow.ID {
			return false
		}
	}
	arts, err := s.cfg.Store.ArtifactsOnTrail(t.ID, digest)
	return err == nil && len(arts) > 0
}

// kosliEnvironmentBody is the JSON of PUT /api/v2/environments/{org}.
type kosliEnvironmentBody struct {
	Name                 string   `json:"name"`
	Type                 string   `json:"type"`
	Description          *string  `json:"description"`
	IncludedEnvironments []string `json:"included_environments"`
}

// kosliEnvTypes maps Kosli's environment and report type spellings to ours.
var kosliEnvTypes = map[string]string{"K8S": "K8S", "ECS": "ECS", "S3": "S3", "lambda": "LAMBDA", "server": "SERVER",
	"docker": "DOCKER", "azure-apps": "AZURE_APPS", "cloud-run": "CLOUD_RUN"}

// kosliTypeOf is the inverse of kosliEnvTypes.
func kosliTypeOf(ours string) string {
	for k, v := range kosliEnvTypes {
		if v == ours {
			return k
		}
	}
	return strings.ToLower(ours)
}

func (s *Server) kosliPutEnvironment(w http.ResponseWriter, r *http.Request) {
	var b kosliEnvironmentBody
	if err := decodeJSON(r, &b); err != nil {
		writeKosliError(w, r, err)
		return
	}
	org := mux.Vars(r)["org"]
	if strings.EqualFold(b.Type, "logical") {
		s.kosliWrite(w, r, domain.SaveLogicalByName{ID: newID(), Org: org, Name: b.Name, Description: b.Description, Included: b.IncludedEnvironments})
		return
	}
	typ, ok := kosliEnvTypes[b.Type]
	if !ok {
		typ = b.Type // validated by the domain (any case of ours)
	}
	name := b.Name
	s.kosliWrite(w, r, domain.SaveEnvironmentByName{ID: newID(), Org: org, Fields: domain.EnvironmentFields{Name: &name, Type: &typ, Description: b.Description}})
}

// kosliReport is a snapshot report: one entry per instance holder (a pod,
// a task, a function ...).
type kosliReport struct {
	Artifacts []kosliReportEntry `json:"artifacts"`
}

// kosliReportEntry is one instance holder: the artifacts it runs (name to
// fingerprint), when it started, and whatever else the report says of it
// (a pod's name, namespace and owners, a task's ARN ...), kept as context.
type kosliReportEntry struct {
	Digests           map[string]string
	CreationTimestamp int64
	Context           json.RawMessage
}

// UnmarshalJSON implements json.Unmarshaler: digests and creationTimestamp
// are read, every other field goes into Context.
func (e *kosliReportEntry) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return errors.New("each artifacts entry must be an object")
	}
	if raw, ok := fields["digests"]; ok {
		if err := json.Unmarshal(raw, &e.Digests); err != nil {
			return errors.New("digests must map artifact names to fingerprints (strings)")
		}
		delete(fields, "digests")
	}
	if raw, ok := fields["creationTimestamp"]; ok {
		if err := json.Unmarshal(raw, &e.CreationTimestamp); err != nil {
			return errors.New("creationTimestamp must be an integer (Unix seconds)")
		}
		delete(fields, "creationTimestamp")
	}
	if len(fields) > 0 {
		ctx, err := json.Marshal(fields) // sorted keys, compact
		if err != nil {
			return fmt.Errorf("artifacts entry: %w", err)
		}
		e.Context = ctx
	}
	return nil
}

func (s *Server) kosliReportSnapshot(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	if _, ok := kosliEnvTypes[v["type"]]; !ok {
		writeKosliError(w, r, domain.NotFound("report type", v["type"]))
		return
	}
	var b kosliReport
	if err := decodeJSON(r, &b); err != nil {
		writeKosliError(w, r, err)
		return
	}
	// One running artifact per (name, digest), with its instances in the
	// order they were reported.
	type key struct{ name, fp string }
	instances := map[key][]domain.SnapshotInstance{}
	var order []key
	for _, e := range b.Artifacts {
		for _, name := range slices.Sorted(maps.Keys(e.Digests)) {
			k := key{name, e.Digests[name]}
			if _, seen := instances[k]; !seen {
				order = append(order, k)
			}
			instances[k] = append(instances[k], domain.SnapshotInstance{CreatedAt: e.CreationTimestamp, Context: e.Context})
		}
	}
	arts := make([]domain.SnapshotArtifact, 0, len(order))
	for _, k := range order {
		fp := k.fp
		if fp != "" && !strings.HasPrefix(fp, "sha256:") {
			fp = "sha256:" + fp
		}
		arts = append(arts, domain.SnapshotArtifact{ArtifactName: k.name, ArtifactSha256: fp, InstanceCount: len(instances[k]), Instances: instances[k]})
	}
	by := actorOf(r)
	s.kosliWrite(w, r, domain.RecordSnapshotByName{Org: v["org"], Environment: v["env"], Snapshot: domain.RecordSnapshot{
		ID: newID(), RecordedBy: &by, Artifacts: arts, AllowEmptyDigest: true, SkipUnchanged: true}})
}

func (s *Server) kosliPutPolicy(w http.ResponseWriter, r *http.Request) {
	form, err := readKosliForm(r, "payload")
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	var b struct {
		Name, Description, Comment, Type string
	}
	if err := decodeKosliJSON(form.data, &b); err != nil {
		writeKosliError(w, r, err)
		return
	}
	f, ok := form.files["policy_file"]
	if !ok {
		writeKosliError(w, r, domain.Invalid("policy_file", "is required"))
		return
	}
	if _, err := envpolicy.Parse(f.body); err != nil {
		writeKosliError(w, r, domain.Invalid("policy_file", "%v", err))
		return
	}
	s.kosliWrite(w, r, domain.SavePolicy{ID: newID(), Policy: domain.Policy{Org: mux.Vars(r)["org"], Name: b.Name,
		Description: b.Description, Comment: b.Comment, Type: b.Type, YAML: string(f.body)}})
}

func (s *Server) kosliAttachPolicies(w http.ResponseWriter, r *http.Request) {
	var b struct {
		PolicyNames []string `json:"policy_names"`
	}
	if err := decodeJSON(r, &b); err != nil {
		writeKosliError(w, r, err)
		return
	}
	v := mux.Vars(r)
	s.kosliWrite(w, r, domain.AttachPolicies{Org: v["org"], Environment: v["env"], Names: b.PolicyNames, Detach: r.Method == http.MethodDelete})
}

func (s *Server) kosliCreateAttestationType(w http.ResponseWriter, r *http.Request) {
	form, err := readKosliForm(r, "data_json")
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	var t custom.Type
	if err = decodeKosliJSON(form.data, &t); err != nil {
		writeKosliError(w, r, err)
		return
	}
	if f, ok := form.files["type_schema"]; ok {
		t.Schema = f.body
	}
	if err = t.Validate(); err != nil {
		writeKosliError(w, r, domain.Invalid("data_json", "%v", err))
		return
	}
	def, err := json.Marshal(t)
	if err != nil {
		writeKosliError(w, r, fmt.Errorf("httpapi: encode attestation type: %w", err))
		return
	}
	s.kosliWrite(w, r, domain.SaveAttestationType{Type: domain.AttestationType{Org: mux.Vars(r)["org"], Name: t.Name, Definition: def}})
}

// kosliLegacyAttest is the original's POST
// /api/v2/attestations/{org}/{flow}/{trail}/{artifactFingerprint}: a v1
// attestation body, the trail by name or id, answered like v1.
func (s *Server) kosliLegacyAttest(w http.ResponseWriter, r *http.Request) {
	var b attestationBody
	if err := decodeJSON(r, &b); err != nil {
		writeKosliError(w, r, err)
		return
	}
	v := mux.Vars(r)
	f := b.fields()
	// The original stored the fingerprint as free text (its contract test
	// sends "sha256:abc123"). It binds the attestation when it names an
	// artifact of the trail, and is kept as reported either way.
	raw, _ := json.Marshal(v["fingerprint"])
	f.Extra = map[string]json.RawMessage{"artifact_fingerprint": raw}
	if d, ok := domain.NormalizeDigest(v["fingerprint"]); ok && s.trailHasDigest(v["org"], v["flow"], v["trail"], d) {
		f.ArtifactFingerprint = &d
	}
	out, err := s.write(w, r, domain.RecordAttestationByName{Org: v["org"], FlowName: v["flow"], Trail: v["trail"],
		Record: domain.RecordAttestation{ID: newID(), Fields: f}})
	if err != nil {
		writeKosliError(w, r, err)
		return
	}
	respondEvent(w, out, http.StatusCreated)
}
