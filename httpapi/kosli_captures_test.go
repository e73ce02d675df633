package httpapi_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Kosli door replayed: every request the real kosli CLI v2.38 sent in
// ../shared/kosli-captures/ goes to a full node byte for byte (method,
// escaped path and query, headers, body), against state prepared the way
// the captures assume, and each answer is checked for the status and the
// fields the CLI parses for that command (kosli-wire.md §1, §4).

// kosliCapturesDir is where the recorded CLI traffic lives, outside the
// module.
const kosliCapturesDir = "../../shared/kosli-captures"

const (
	fpA       = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	fpAppTxt  = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
	fpDist    = "78252a22446a71093c74e2584195b3f261df7912acbc65f38747cb7460613f45"
	headSha   = "81722e2b964d7a91c95d48d5def60a5ac0ae0d9f"
	buildURL  = "https://ci.example.com/b/1"
	commitURL = "https://github.com/acme/app/commit/abc"
)

// capture is one recorded CLI run.
type capture struct {
	name     string
	command  string
	exitCode int
	requests []capturedRequest
}

// tableOutput tells whether the CLI printed a table (it parses more of
// the answer then) rather than the body as JSON.
func (c capture) tableOutput() bool {
	return !strings.Contains(c.command, "--output json")
}

// capturedRequest is one request as the CLI sent it.
type capturedRequest struct {
	method string
	uri    string // escaped path and query, as on the wire
	header http.Header
	body   []byte
	// inexact says why body is not byte for byte what the CLI sent, when
	// the recording does not hold those bytes.
	inexact []string
}

// capturedPart is one part of a recorded multipart body.
type capturedPart struct {
	name, filename, contentType string
	body                        []byte
}

var (
	partHeaderRE = regexp.MustCompile(`^  --- part name="(.*)" filename="(.*)" content-type="(.*)" len=(\d+)$`)
	binaryRE     = regexp.MustCompile(`^<binary (\d+) bytes, first bytes ([0-9a-f]+)>$`)
)

// captureScanner walks a capture file; content is cut by byte counts, so
// it keeps a byte offset rather than splitting into lines.
type captureScanner struct {
	s   string
	pos int
}

func (sc *captureScanner) done() bool { return sc.pos >= len(sc.s) }

func (sc *captureScanner) peek() string {
	end := strings.IndexByte(sc.s[sc.pos:], '\n')
	if end < 0 {
		return sc.s[sc.pos:]
	}
	return sc.s[sc.pos : sc.pos+end]
}

func (sc *captureScanner) line() string {
	l := sc.peek()
	sc.pos = min(len(sc.s), sc.pos+len(l)+1)
	return l
}

// indented collects the following lines that start with prefix, without it.
func (sc *captureScanner) indented(prefix string) string {
	var lines []string
	for !sc.done() && strings.HasPrefix(sc.peek(), prefix) {
		lines = append(lines, strings.TrimPrefix(sc.line(), prefix))
	}
	return strings.Join(lines, "\n")
}

// parseCapture reads a capture file. fixtures are the input files of the
// recording, used where the recorder reformatted a JSON file it showed.
func parseCapture(name, text string, fixtures map[string]string) (capture, error) {
	c := capture{name: name, exitCode: -1}
	sc := &captureScanner{s: text}
	for !sc.done() {
		l := sc.line()
		switch {
		case strings.HasPrefix(l, "COMMAND: "):
			c.command = strings.TrimPrefix(l, "COMMAND: ")
		case strings.HasPrefix(l, "EXIT CODE: "):
			code, err := strconv.Atoi(strings.TrimPrefix(l, "EXIT CODE: "))
			if err != nil {
				return c, fmt.Errorf("%s: exit code: %w", name, err)
			}
			c.exitCode = code
		case strings.HasPrefix(l, "=============== request #"):
			req, err := parseRequest(sc, fixtures)
			if err != nil {
				return c, fmt.Errorf("%s: %s: %w", name, l, err)
			}
			c.requests = append(c.requests, req)
		}
	}
	if c.command == "" || c.exitCode < 0 {
		return c, fmt.Errorf("%s: no COMMAND or EXIT CODE", name)
	}
	return c, nil
}

func parseRequest(sc *captureScanner, fixtures map[string]string) (capturedRequest, error) {
	method, uri, ok := strings.Cut(sc.line(), " ")
	if !ok {
		return capturedRequest{}, fmt.Errorf("no request line")
	}
	req := capturedRequest{method: method, uri: uri, header: http.Header{}}
	for !sc.done() {
		l := sc.line()
		switch {
		case strings.HasPrefix(l, "PATH: "), strings.HasPrefix(l, "QUERY: "):
		case l == "HEADERS:":
			for strings.HasPrefix(sc.peek(), "  ") {
				k, v, _ := strings.Cut(strings.TrimSpace(sc.line()), ": ")
				req.header.Add(k, v)
			}
		case l == "BODY: <empty>":
			return req, checkLength(req)
		case l == "BODY (json):":
			// The recorder re-indents JSON bodies by two spaces.
			body, exact, err := jsonAsSent(sc.indented("  "), declaredLength(req.header), "")
			if err != nil {
				return req, err
			}
			req.body = body
			if !exact {
				req.inexact = append(req.inexact, "body: no spelling of the JSON shown has the length sent")
				return req, nil
			}
			return req, checkLength(req)
		case l == "MULTIPART PARTS:":
			body, inexact, err := parseMultipart(sc, req.header.Get("Content-Type"), fixtures)
			if err != nil {
				return req, err
			}
			req.body, req.inexact = body, inexact
			return req, checkLength(req)
		default:
			return req, fmt.Errorf("unexpected line %q", l)
		}
	}
	return req, fmt.Errorf("no body")
}

func declaredLength(h http.Header) int {
	n, err := strconv.Atoi(h.Get("Content-Length"))
	if err != nil {
		return -1
	}
	return n
}

// checkLength proves the body was rebuilt byte for byte: its length is the
// Content-Length the CLI sent.
func checkLength(req capturedRequest) error {
	want := declaredLength(req.header)
	if want < 0 {
		want = 0
	}
	if len(req.body) != want {
		return fmt.Errorf("rebuilt body has %d bytes, the CLI sent %d", len(req.body), want)
	}
	return nil
}

// jsonAsSent recovers the bytes of a JSON document the recorder showed
// pretty-printed: the one of its spellings (the input file, compact or
// indented, with or without a final newline) that has the recorded length.
// When none has, the recorder changed the content (it redacts local
// paths), and the compact spelling is the best there is.
func jsonAsSent(shown string, n int, fixture string) (body []byte, exact bool, err error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(shown)); err != nil {
		return nil, false, fmt.Errorf("shown JSON: %w", err)
	}
	candidates := []string{compact.String(), compact.String() + "\n", shown, shown + "\n"}
	if fixture != "" {
		var f bytes.Buffer
		if json.Compact(&f, []byte(fixture)) == nil && f.String() == compact.String() {
			candidates = append([]string{fixture}, candidates...)
		}
	}
	for _, c := range candidates {
		if len(c) == n {
			return []byte(c), true, nil
		}
	}
	return compact.Bytes(), false, nil
}

// parseMultipart rebuilds a multipart body with the recorded boundary, as
// Go's multipart writer (which the CLI uses) lays it out.
func parseMultipart(sc *captureScanner, contentType string, fixtures map[string]string) (body []byte, inexact []string, err error) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		return nil, nil, fmt.Errorf("content type %q: no boundary", contentType)
	}
	var parts []capturedPart
	for strings.HasPrefix(sc.peek(), "  --- part ") {
		m := partHeaderRE.FindStringSubmatch(sc.line())
		if m == nil {
			return nil, nil, fmt.Errorf("bad part header")
		}
		n, _ := strconv.Atoi(m[4])
		content, why, err := partContent(sc, n, fixtures[m[2]])
		if err != nil {
			return nil, nil, fmt.Errorf("part %s: %w", m[1], err)
		}
		if why != "" {
			inexact = append(inexact, "part "+m[1]+": "+why)
		}
		parts = append(parts, capturedPart{name: m[1], filename: m[2], contentType: m[3], body: content})
	}
	body, err = writeMultipart(params["boundary"], parts)
	return body, inexact, err
}

// writeMultipart lays parts out as Go's multipart writer (the CLI's) does.
func writeMultipart(boundary string, parts []capturedPart) ([]byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.SetBoundary(boundary); err != nil {
		return nil, err
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disposition := fmt.Sprintf(`form-data; name="%s"`, p.name)
		if p.filename != "" {
			disposition += fmt.Sprintf(`; filename="%s"`, p.filename)
		}
		h.Set("Content-Disposition", disposition)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(p.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// partContent reads one part's n bytes. The recorder prints a part four
// spaces in; text as it was (only its first line indented), JSON
// re-indented (every line indented), binary as a length and a prefix.
func partContent(sc *captureScanner, n int, fixture string) (body []byte, inexact string, err error) {
	if !strings.HasPrefix(sc.s[sc.pos:], "    ") {
		return nil, "", fmt.Errorf("content is not indented")
	}
	start := sc.pos + 4
	if m := binaryRE.FindStringSubmatch(sc.peek()[4:]); m != nil {
		// Only a prefix of a binary part was recorded: keep its length
		// and first bytes, pad the rest.
		sc.line()
		prefix, err := hex.DecodeString(m[2])
		if err != nil || len(prefix) > n {
			return nil, "", fmt.Errorf("binary prefix %q", m[2])
		}
		return append(prefix, make([]byte, n-len(prefix))...), "binary, only its first bytes recorded", nil
	}
	if end := start + n; end < len(sc.s) && sc.s[end] == '\n' && isPartEnd(sc.s[end+1:]) {
		sc.pos = end + 1
		return []byte(sc.s[start:end]), "", nil
	}
	body, exact, err := jsonAsSent(sc.indented("    "), n, fixture)
	if err == nil && !exact {
		err = fmt.Errorf("no spelling of the JSON shown has %d bytes", n)
	}
	return body, "", err
}

func isPartEnd(rest string) bool {
	return strings.HasPrefix(rest, "  --- part ") || strings.HasPrefix(rest, "RESPONSE:")
}

// readFixtures reads the input files of the recording.
func readFixtures(text string) map[string]string {
	out := map[string]string{}
	const marker = "=============== file: "
	for _, sec := range strings.Split(text, "\n"+marker)[1:] {
		name, body, _ := strings.Cut(sec, "\n")
		if i := strings.Index(body, "\n==============="); i >= 0 {
			body = body[:i]
		}
		// The blank line before the next section is not the file's.
		out[filepath.Base(name)] = body
	}
	return out
}

func loadCaptures(t *testing.T) map[string]capture {
	t.Helper()
	if _, err := os.Stat(kosliCapturesDir); err != nil {
		t.Skipf("no Kosli captures at %s: %v", kosliCapturesDir, err)
	}
	raw, err := os.ReadFile(filepath.Join(kosliCapturesDir, "_fixtures-and-responses.txt"))
	require.NoError(t, err)
	fixtures := readFixtures(string(raw))
	files, err := filepath.Glob(filepath.Join(kosliCapturesDir, "*.txt"))
	require.NoError(t, err)
	out := map[string]capture{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		if name == "README" || strings.HasPrefix(name, "_") {
			continue
		}
		text, err := os.ReadFile(f)
		require.NoError(t, err)
		c, err := parseCapture(name, string(text), fixtures)
		require.NoError(t, err)
		out[name] = c
	}
	return out
}

// TestKosliCaptureParser pins the parser on captures whose bytes are known.
func TestKosliCaptureParser(t *testing.T) {
	t.Parallel()
	captures := loadCaptures(t)
	tests := []struct {
		capture  string
		request  int
		method   string
		uri      string
		contains []string
	}{
		{"attest-generic-escaped", 0, http.MethodPost, "/api/v2/attestations/acme/my%20flow/trail/t%201/x/generic",
			[]string{`"attestation_name":"lint"`, `\u003cdev@example.com\u003e`}},
		{"create-flow", 0, http.MethodPut, "/api/v2/flows/acme/template_file",
			[]string{`filename="template.yml"`, "Content-Type: application/octet-stream\r\n\r\nversion: 1\r\n--"}},
		{"attest-snyk", 0, http.MethodPost, "/api/v2/attestations/acme/myflow/trail/trail-1/snyk",
			[]string{"\"runs\": [{\n    \"tool\""}},
		{"create-env-logical", 0, http.MethodPut, "/api/v2/environments/acme",
			[]string{`{"name":"all-prod","type":"logical","description":"","included_environments":["prod","staging"]}`}},
		{"assert-artifact-policy", 0, http.MethodGet, "/api/v2/asserts/acme/fingerprint/" + fpA + "?policy_name=p1&policy_name=p2", nil},
		{"attest-pr-github", 1, http.MethodPost, "/api/v2/attestations/acme/myflow/trail/trail-1/pull_request",
			[]string{"\"approvers\""}},
	}
	for _, tt := range tests {
		t.Run(tt.capture, func(t *testing.T) {
			t.Parallel()
			c, ok := captures[tt.capture]
			require.True(t, ok)
			require.Greater(t, len(c.requests), tt.request)
			req := c.requests[tt.request]
			assert.Equal(t, tt.method, req.method)
			assert.Equal(t, tt.uri, req.uri)
			assert.Equal(t, "Kosli/v2.38.0", req.header.Get("User-Agent"))
			for _, s := range tt.contains {
				assert.Contains(t, string(req.body), s)
			}
		})
	}
	assert.Empty(t, captures["snapshot-docker"].requests, "the CLI failed before sending anything")

	// Every other request is rebuilt byte for byte (its length is the
	// Content-Length sent); these two the recording cannot give back.
	inexact := map[string][]string{}
	for name, c := range captures {
		for i, req := range c.requests {
			if len(req.inexact) > 0 {
				inexact[fmt.Sprintf("%s#%d", name, i+1)] = req.inexact
			}
		}
	}
	assert.Equal(t, map[string][]string{
		"attest-generic-trail#1": {"part attachment_file: binary, only its first bytes recorded"},
		"snapshot-server#1":      {"body: no spelling of the JSON shown has the length sent"},
	}, inexact)
}

// replayed is what one capture's requests got back.
type replayed struct {
	capture    capture
	replies    []reply
	headBefore uint64
	headAfter  uint64
}

type captureCheck func(t *testing.T, got replayed)

// replay sends a capture's requests to n as the CLI did. Requests to the
// fake GitHub of attest-pr-github are not Kosli's and are left out.
// Accept-Encoding is left to the client, which sends the same gzip.
func replay(t *testing.T, n *node, c capture) replayed {
	t.Helper()
	out := replayed{capture: c, headBefore: n.head(t)}
	for _, req := range c.requests {
		if strings.HasPrefix(req.uri, "/ghapi/") {
			continue
		}
		var headers []string
		for k, vs := range req.header {
			if k != "Content-Length" && k != "Accept-Encoding" {
				headers = append(headers, k, vs[0])
			}
		}
		var body any
		if len(req.body) > 0 {
			body = req.body
		}
		out.replies = append(out.replies, n.do(t, req.method, req.uri, body, headers...))
	}
	out.headAfter = n.head(t)
	return out
}

// written: every request succeeded with 200 or 201, the only statuses the
// CLI counts as success.
func written(t *testing.T, got replayed) {
	t.Helper()
	require.NotEmpty(t, got.replies)
	for _, r := range got.replies {
		assert.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.status, "body: %s", r.body)
	}
	assert.Greater(t, got.headAfter, got.headBefore, "the write reached the ledger")
}

// created: the CLI prints "created" (201), not "updated" (200).
func created(t *testing.T, got replayed) {
	t.Helper()
	require.Len(t, got.replies, 1)
	assert.Equal(t, http.StatusCreated, got.replies[0].status, "body: %s", got.replies[0].body)
	assert.Greater(t, got.headAfter, got.headBefore)
}

// noRequest: the CLI failed before talking to the server.
func noRequest(t *testing.T, got replayed) {
	t.Helper()
	assert.Empty(t, got.replies)
	assert.NotZero(t, got.capture.exitCode)
}

// rejected: a 4xx the CLI does not retry (never 409 or 429), status if
// given, whose message names what was wrong, and nothing appended.
func rejected(status int, mentions string) captureCheck {
	return func(t *testing.T, got replayed) {
		t.Helper()
		require.Len(t, got.replies, 1)
		r := got.replies[0]
		assert.True(t, r.status >= 400 && r.status < 500, "status %d, body: %s", r.status, r.body)
		assert.NotContains(t, []int{http.StatusConflict, http.StatusTooManyRequests}, r.status)
		if status != 0 {
			assert.Equal(t, status, r.status, "body: %s", r.body)
		}
		msg, _ := jsonField[string](t, r.json(t), "message")
		assert.Contains(t, msg, mentions)
		assert.Equal(t, got.headBefore, got.headAfter, "nothing appended")
	}
}

// jsonField is m[key] when it has the JSON type the CLI type-asserts.
func jsonField[T any](t *testing.T, m map[string]any, key string) (T, bool) {
	t.Helper()
	var zero T
	v, ok := m[key]
	if !assert.True(t, ok, "field %q missing: the CLI reads it; got %v", key, m) {
		return zero, false
	}
	tv, ok := v.(T)
	assert.True(t, ok, "field %q is %T (%v); the CLI needs %T", key, v, v, zero)
	return tv, ok
}

func okJSON(t *testing.T, got replayed) map[string]any {
	t.Helper()
	require.Len(t, got.replies, 1)
	r := got.replies[0]
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	return r.json(t)
}

// wantCompliant is the verdict the capture's exit code stands for: 0
// compliant, 1 not; 2 was the CLI panicking on the recorder's empty
// answer, which says nothing about the verdict.
func wantCompliant(c capture) *bool {
	var v bool
	switch c.exitCode {
	case 0:
		v = true
	case 1:
		v = false
	default:
		return nil
	}
	return &v
}

// assertArtifact checks `kosli assert artifact`: compliant drives the exit
// code; table output also needs scope, flows[].flow and html_url, and in
// environment or policy scope the environment and policy_evaluations.
func assertArtifact(scope, env string, policies ...string) captureCheck {
	return func(t *testing.T, got replayed) {
		t.Helper()
		m := okJSON(t, got)
		compliant, _ := jsonField[bool](t, m, "compliant")
		if want := wantCompliant(got.capture); want != nil {
			assert.Equal(t, *want, compliant, "the CLI's exit code follows compliant; body: %s", got.replies[0].body)
		}
		gotScope, _ := jsonField[string](t, m, "scope")
		assert.Equal(t, scope, gotScope)
		if !got.capture.tableOutput() && len(policies) == 0 {
			return
		}
		flows, _ := jsonField[[]any](t, m, "flows")
		if len(flows) > 0 {
			jsonField[string](t, m, "html_url")
		}
		for _, f := range flows {
			fm, ok := f.(map[string]any)
			require.True(t, ok, "flows[] entry %v", f)
			name, _ := jsonField[string](t, fm, "flow")
			assert.Equal(t, "myflow", name)
			status, _ := jsonField[map[string]any](t, fm, "compliance_status")
			statuses, _ := jsonField[[]any](t, status, "attestations_statuses")
			for _, s := range statuses {
				sm, ok := s.(map[string]any)
				require.True(t, ok)
				jsonField[string](t, sm, "attestation_name")
				jsonField[bool](t, sm, "is_compliant")
			}
		}
		if scope == "flow" {
			return
		}
		if env != "" {
			gotEnv, _ := jsonField[string](t, m, "environment")
			assert.Equal(t, env, gotEnv)
		}
		evals, _ := jsonField[[]any](t, m, "policy_evaluations")
		var names []string
		for _, e := range evals {
			em, ok := e.(map[string]any)
			require.True(t, ok)
			name, _ := jsonField[string](t, em, "policy_name")
			names = append(names, name)
			jsonField[string](t, em, "status")
			rules, _ := jsonField[[]any](t, em, "rule_evaluations")
			for _, r := range rules {
				rm, ok := r.(map[string]any)
				require.True(t, ok)
				jsonField[bool](t, rm, "ignored")
				rule, _ := jsonField[map[string]any](t, rm, "rule")
				jsonField[map[string]any](t, rule, "definition")
				res, _ := jsonField[[]any](t, rm, "resolutions")
				for _, x := range res {
					xm, ok := x.(map[string]any)
					require.True(t, ok)
					jsonField[string](t, xm, "type")
				}
			}
		}
		assert.Equal(t, policies, names, "one evaluation per policy, in order")
	}
}

// snapshotVerdict checks `kosli assert snapshot`: it needs compliant.
func snapshotVerdict(t *testing.T, got replayed) {
	t.Helper()
	m := okJSON(t, got)
	compliant, _ := jsonField[bool](t, m, "compliant")
	if want := wantCompliant(got.capture); want != nil {
		assert.Equal(t, *want, compliant, "body: %s", got.replies[0].body)
	}
}

// trailRead checks `kosli get trail trail-1`: the table reads name,
// description, compliance_state, last_modified_at, git_commit_info (when
// present) and, per event, timestamp, type and the fields its description
// line prints.
func trailRead(t *testing.T, got replayed) {
	t.Helper()
	m := okJSON(t, got)
	name, _ := jsonField[string](t, m, "name")
	assert.Equal(t, "trail-1", name)
	desc, _ := jsonField[string](t, m, "description")
	assert.Equal(t, "first trail", desc, "begin trail's --description")
	state, _ := jsonField[string](t, m, "compliance_state")
	assert.Contains(t, []string{"COMPLIANT", "NON-COMPLIANT", "INCOMPLETE"}, state)
	modified, _ := jsonField[float64](t, m, "last_modified_at")
	assert.Positive(t, modified)
	if gi, ok := m["git_commit_info"]; ok {
		g, ok := gi.(map[string]any)
		require.True(t, ok, "git_commit_info %v", gi)
		for _, k := range []string{"sha1", "author", "message"} {
			jsonField[string](t, g, k)
		}
		jsonField[float64](t, g, "timestamp")
	}
	events, _ := jsonField[[]any](t, m, "events")
	types := map[string]int{}
	// The description line of each event prints these fields.
	printed := map[string][]string{
		"artifact_creation_reported":              {"artifact_name", "template_reference_name"},
		"trail_attestation_reported":              {"attestation_type", "template_reference_name"},
		"artifact_attestation_reported":           {"attestation_type", "target_artifact", "template_reference_name"},
		"trail_attestation_for_artifact_reported": {"attestation_type", "target_artifact", "template_reference_name"},
	}
	missing := map[string]bool{}
	for _, e := range events {
		em, ok := e.(map[string]any)
		require.True(t, ok, "event %v", e)
		jsonField[float64](t, em, "timestamp")
		typ, _ := jsonField[string](t, em, "type")
		types[typ]++
		if v, ok := em["is_compliant"]; ok {
			assert.IsType(t, true, v, "event %v", em)
		}
		if gi, ok := em["git_commit_info"].(map[string]any); ok {
			if sha, ok := gi["sha1"].(string); ok {
				assert.GreaterOrEqual(t, len(sha), 7, "the CLI prints sha1[0:7]")
			}
		}
		for _, k := range printed[typ] {
			if _, ok := em[k].(string); !ok {
				missing[typ+"."+k] = true
			}
		}
	}
	if got.capture.tableOutput() {
		assert.Empty(t, missing, "event fields the CLI's table prints (placeholders when absent)")
	}
	assert.Equal(t, 1, types["trail_reported"], "events: %v", types)
	assert.Equal(t, 3, types["artifact_creation_reported"], "three artifacts attested; events: %v", types)
	attested := types["trail_attestation_reported"] + types["artifact_attestation_reported"] + types["trail_attestation_for_artifact_reported"]
	assert.GreaterOrEqual(t, attested, 7, "every attestation replayed on trail-1; events: %v", types)
}

// kosliTrailList is what `kosli list trails` decodes (its own structs).
type kosliTrailList struct {
	Data []struct {
		Name            string `json:"name"`
		Description     string `json:"description"`
		ComplianceState string `json:"compliance_state"`
	} `json:"data"`
	Pagination struct {
		Page      float64 `json:"page"`
		PageCount float64 `json:"page_count"`
		Total     float64 `json:"total"`
	} `json:"pagination"`
}

func trailList(names ...string) captureCheck {
	return func(t *testing.T, got replayed) {
		t.Helper()
		m := okJSON(t, got)
		jsonField[[]any](t, m, "data")
		p, _ := jsonField[map[string]any](t, m, "pagination")
		for _, k := range []string{"page", "page_count", "total"} {
			jsonField[float64](t, p, k)
		}
		var l kosliTrailList
		require.NoError(t, json.Unmarshal(got.replies[0].body, &l), "the CLI decodes the answer into its own types")
		var gotNames []string
		for _, d := range l.Data {
			gotNames = append(gotNames, d.Name)
			assert.NotEmpty(t, d.ComplianceState)
		}
		assert.ElementsMatch(t, names, gotNames)
		assert.InDelta(t, 1, l.Pagination.Page, 0)
		assert.InDelta(t, 1, l.Pagination.PageCount, 0)
		assert.InDelta(t, len(names), l.Pagination.Total, 0)
	}
}

// kosliSearchResult is what `kosli search` decodes (its own structs).
type kosliSearchResult struct {
	ResolvedTo struct {
		Type         string `json:"type"`
		FullMatch    string `json:"full_match"`
		Fingerprints struct {
			Type    string   `json:"type"`
			Count   int      `json:"count"`
			Matches []string `json:"matches"`
		} `json:"fingerprints"`
		Commits struct {
			Type    string   `json:"type"`
			Count   int      `json:"count"`
			Matches []string `json:"matches"`
		} `json:"commits"`
	} `json:"resolved_to"`
	Artifacts []struct {
		Fingerprint     string           `json:"fingerprint"`
		Name            string           `json:"name"`
		Flow            string           `json:"flow"`
		Commit          string           `json:"git_commit"`
		HasProvenance   bool             `json:"has_provenance"`
		CommitURL       string           `json:"commit_url"`
		BuildURL        string           `json:"build_url"`
		ArtifactURL     string           `json:"html_url"`
		ComplianceState string           `json:"compliance_state"`
		RunningIn       []string         `json:"running_in"`
		ExitedFrom      []string         `json:"exited_from"`
		History         []map[string]any `json:"history"`
	} `json:"artifacts"`
}

// searchRead checks `kosli search aaaa…`: the fingerprint resolves to the
// artifact attested in myflow, built from HEAD, running in staging.
func searchRead(t *testing.T, got replayed) {
	t.Helper()
	m := okJSON(t, got)
	jsonField[map[string]any](t, m, "resolved_to")
	jsonField[[]any](t, m, "artifacts")
	if !got.capture.tableOutput() {
		return
	}
	var s kosliSearchResult
	// Decoding goes on past a field of the wrong type, as in the CLI.
	if err := json.Unmarshal(got.replies[0].body, &s); err != nil {
		t.Errorf("the CLI decodes the answer into its own types and fails: %v", err)
	}
	assert.Equal(t, "fingerprint", s.ResolvedTo.Type)
	assert.Equal(t, fpA, s.ResolvedTo.FullMatch, "printed as 'resolved to artifact with fingerprint …'")
	assert.Equal(t, 1, s.ResolvedTo.Fingerprints.Count)
	assert.Equal(t, []string{fpA}, s.ResolvedTo.Fingerprints.Matches)
	require.Len(t, s.Artifacts, 1)
	a := s.Artifacts[0]
	assert.Equal(t, fpA, a.Fingerprint)
	assert.NotEmpty(t, a.Name)
	assert.True(t, a.HasProvenance, "attested through `kosli attest artifact`; the CLI hides flow and commit otherwise")
	assert.Equal(t, "myflow", a.Flow, "the flow's name")
	assert.Equal(t, headSha, a.Commit)
	assert.Equal(t, commitURL, a.CommitURL)
	assert.Equal(t, buildURL, a.BuildURL)
	assert.NotEmpty(t, a.ArtifactURL)
	assert.Contains(t, []string{"COMPLIANT", "NON-COMPLIANT", "INCOMPLETE"}, a.ComplianceState)
	assert.True(t, slices.ContainsFunc(a.RunningIn, func(s string) bool { return strings.HasPrefix(s, "staging#") }),
		"aaaa… runs in staging's latest snapshot; running_in %v", a.RunningIn)
	assert.NotEmpty(t, a.History)
	for _, h := range a.History {
		assert.IsType(t, "", h["event"])
		assert.IsType(t, float64(0), h["timestamp"])
	}
}

// ready: `kosli status` prints the body of a 200; `assert status` needs it.
func ready(t *testing.T, got replayed) {
	t.Helper()
	require.Len(t, got.replies, 1)
	assert.Equal(t, http.StatusOK, got.replies[0].status, "body: %s", got.replies[0].body)
	assert.True(t, json.Valid(got.replies[0].body))
}

// autoEnvironment: `snapshot paths newenv -A` asks for the environment
// (404: absent), creates it as a server environment, then reports.
func autoEnvironment(t *testing.T, got replayed) {
	t.Helper()
	require.Len(t, got.replies, 3)
	r := got.replies[0]
	require.Equal(t, http.StatusNotFound, r.status, "body: %s", r.body)
	msg, _ := jsonField[string](t, r.json(t), "message")
	assert.Contains(t, msg, "newenv")
	for _, r := range got.replies[1:] {
		assert.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.status, "body: %s", r.body)
	}
}

// kosliForm posts a Kosli multipart request for the prepared state.
func kosliForm(t *testing.T, n *node, method, path, jsonPart string, data any, file ...string) reply {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	raw, err := json.Marshal(data)
	require.NoError(t, err)
	require.NoError(t, mw.WriteField(jsonPart, string(raw)))
	for i := 0; i+2 < len(file); i += 3 {
		fw, err := mw.CreateFormFile(file[i], file[i+1])
		require.NoError(t, err)
		_, err = fw.Write([]byte(file[i+2]))
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	r := n.do(t, method, path, buf.Bytes(), "Content-Type", mw.FormDataContentType(), "Authorization", "Bearer dummy")
	require.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.status, "%s %s: %s", method, path, r.body)
	return r
}

func kosliJSON(t *testing.T, n *node, method, path string, body any) {
	t.Helper()
	r := n.do(t, method, path, body, "Content-Type", "application/json; charset=utf-8", "Authorization", "Bearer dummy")
	require.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.status, "%s %s: %s", method, path, r.body)
}

// prepareKosliState is what the captures take for granted: organisation
// acme, flow "my flow", environment staging with four snapshots (for
// staging#4 and staging~1), and policies p1 and p2.
func prepareKosliState(t *testing.T, n *node) {
	t.Helper()
	r := n.do(t, http.MethodPost, "/api/v1/organisations", map[string]any{"slug": "acme", "name": "Acme"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	kosliJSON(t, n, http.MethodPut, "/api/v2/flows/acme", map[string]any{"name": "my flow", "description": "", "template": []string{"artifact"}})
	kosliJSON(t, n, http.MethodPut, "/api/v2/environments/acme", map[string]any{"name": "staging", "type": "server", "description": "staging env"})
	// Each report differs from the one before, so each is a snapshot.
	for _, digests := range []map[string]string{
		{"backend": fpA}, {"app": fpAppTxt}, {"backend": fpA}, {"backend": fpA, "app": fpAppTxt},
	} {
		var arts []map[string]any
		for name, fp := range digests {
			arts = append(arts, map[string]any{"digests": map[string]string{name: fp}, "creationTimestamp": 1795747899})
		}
		kosliJSON(t, n, http.MethodPut, "/api/v2/environments/acme/staging/report/server", map[string]any{"artifacts": arts})
	}
	policies := map[string]string{
		"p1": "_schema: https://kosli.com/schemas/policy/environment/v1\nartifacts:\n  provenance:\n    required: true\n",
		"p2": "_schema: https://kosli.com/schemas/policy/environment/v1\nartifacts:\n  attestations:\n    - name: unit-test\n      type: junit\n",
	}
	for _, name := range []string{"p1", "p2"} {
		kosliForm(t, n, http.MethodPut, "/api/v2/policies/acme", "payload",
			map[string]any{"name": name, "description": name, "comment": "", "type": "env"}, "policy_file", "policy.yml", policies[name])
	}
}

// fixTrail1 re-attests what the replay left failing on trail-1 (the
// trail-level jira-ticket, the failing junit suite and snyk's high
// result), so the captures that assert compliance can pass.
func fixTrail1(t *testing.T, n *node) {
	t.Helper()
	const base = "/api/v2/attestations/acme/myflow/trail/trail-1/"
	kosliForm(t, n, http.MethodPost, base+"generic", "data_json", map[string]any{"attestation_name": "jira-ticket", "user_data": map[string]any{}, "is_compliant": true})
	for _, fp := range []string{fpA, fpAppTxt} {
		kosliForm(t, n, http.MethodPost, base+"junit", "data_json", map[string]any{"artifact_fingerprint": fp, "attestation_name": "unit-test",
			"target_artifacts": []string{"backend"}, "user_data": map[string]any{},
			"junit_results": []map[string]any{{"name": "unit", "failures": 0, "errors": 0, "skipped": 0, "total": 3, "duration": 0.3, "timestamp": 1767323045}}})
	}
	kosliForm(t, n, http.MethodPost, base+"snyk", "data_json", map[string]any{"artifact_fingerprint": fpA, "attestation_name": "snyk",
		"target_artifacts": []string{"backend"}, "user_data": map[string]any{},
		"snyk_results": map[string]any{"schema_version": 1, "tool": map[string]any{"name": "Snyk Container", "version": "1.0.0"},
			"results": []map[string]any{{"high_count": 0, "medium_count": 0, "low_count": 1}}}})
}

// captureStep is one capture to replay and what its answers must be; a
// step without a capture prepares state between replays.
type captureStep struct {
	capture string
	check   captureCheck
	prepare func(t *testing.T, n *node)
}

// kosliCaptureSteps orders the replay so creators run first: flows,
// environments, policies and types, then trails, then artifacts and
// attestations, snapshots, and reads last. Reads that expect a failing
// verdict run before fixTrail1, those that expect a passing one after.
func kosliCaptureSteps() []captureStep {
	return []captureStep{
		{capture: "create-flow", check: created},
		{capture: "create-flow-template", check: created},
		{capture: "create-flow-file", check: created},
		{capture: "create-env", check: written},
		{capture: "create-env-logical", check: written},
		{capture: "create-policy", check: created},
		{capture: "create-attestation-type", check: written},
		{capture: "begin-trail", check: created},
		{capture: "begin-trail-min", check: created},
		{capture: "begin-trail-commit", check: created},
		{capture: "begin-trail-escaped", check: created},

		{capture: "attest-artifact-dir", check: written},
		{capture: "attest-artifact-file", check: written},
		{capture: "attest-artifact-fp", check: written},
		{capture: "attest-generic-trail", check: written},
		{capture: "attest-generic-artifact", check: written},
		{capture: "attest-generic-artifact-file", check: written},
		{capture: "attest-generic-escaped", check: written},
		{capture: "attest-junit", check: written},
		{capture: "attest-snyk", check: written},
		{capture: "attest-custom", check: written},
		{capture: "attest-pr-github", check: written},
		{capture: "attest-generic-400", check: rejected(0, "bad")},
		{capture: "attach-policy", check: written},
		{capture: "snapshot-server", check: written},
		{capture: "snapshot-path", check: written},
		{capture: "snapshot-paths", check: written},
		{capture: "snapshot-paths-autoenv", check: autoEnvironment},
		{capture: "snapshot-docker", check: noRequest},

		{capture: "assert-artifact-noncompliant-json", check: assertArtifact("flow", "")},
		{capture: "assert-artifact-noncompliant-table", check: assertArtifact("flow", "")},
		{capture: "assert-artifact-file", check: assertArtifact("flow", "")},
		{capture: "assert-snapshot-noncompliant", check: snapshotVerdict},
		{capture: "assert-snapshot", check: snapshotVerdict},
		{capture: "get-trail-json", check: trailRead},
		{capture: "get-trail-table", check: trailRead},
		{capture: "get-trail-404", check: rejected(http.StatusNotFound, "nope")},
		// The recorder answered 500 here; on our server the trail simply
		// does not exist, which is a 404 the CLI does not retry.
		{capture: "get-trail-500-retries0", check: rejected(http.StatusNotFound, "servererr")},
		{capture: "list-trails-json", check: trailList("trail-1", "trail-2", "trail-3")},
		{capture: "list-trails-table", check: trailList("trail-1", "trail-2", "trail-3")},
		{capture: "list-trails-noflow", check: trailList("trail-1", "trail-2", "trail-3", "t 1/x")},
		{capture: "search-json", check: searchRead},
		{capture: "search-table", check: searchRead},
		{capture: "status", check: ready},
		{capture: "assert-status", check: ready},

		{prepare: fixTrail1},
		{capture: "assert-artifact-json", check: assertArtifact("flow", "")},
		{capture: "assert-artifact-noscope", check: assertArtifact("flow", "")},
		{capture: "assert-artifact-table", check: assertArtifact("flow", "")},
		{capture: "assert-artifact-env", check: assertArtifact("environment", "prod", "prod-policy")},
		{capture: "assert-artifact-policy", check: assertArtifact("policy", "", "p1", "p2")},
		{capture: "assert-snapshot-compliant", check: snapshotVerdict},
		{capture: "assert-snapshot-tilde", check: snapshotVerdict},
	}
}

func TestKosliCaptureReplay(t *testing.T) {
	t.Parallel()
	captures := loadCaptures(t)
	steps := kosliCaptureSteps()

	var covered []string
	for _, s := range steps {
		if s.capture != "" {
			covered = append(covered, s.capture)
		}
	}
	var all []string
	for name := range captures {
		all = append(all, name)
	}
	require.ElementsMatch(t, all, covered, "every capture is replayed exactly once")

	n := newNode(t)
	prepareKosliState(t, n)
	for _, s := range steps {
		if s.prepare != nil {
			s.prepare(t, n)
			continue
		}
		c := captures[s.capture]
		t.Run(s.capture, func(t *testing.T) {
			s.check(t, replay(t, n, c))
		})
	}

	t.Run("facts visible through api-v1", func(t *testing.T) {
		kosliFactsInV1(t, n)
	})
}

// kosliFactsInV1 checks that what the CLI sent is the same model /api/v1
// serves: flows, trails, artifacts, attestations with their verdicts, and
// evidence.
func kosliFactsInV1(t *testing.T, n *node) {
	t.Helper()
	flowIDs := map[string]string{}
	for _, f := range n.do(t, http.MethodGet, "/api/v1/organisations/acme/flows", nil).list(t) {
		flowIDs[f["name"].(string)] = f["id"].(string)
	}
	for _, name := range []string{"myflow", "myflow2", "myflow3", "my flow"} {
		assert.Contains(t, flowIDs, name)
	}
	tmpl := n.do(t, http.MethodGet, "/api/v1/flows/"+flowIDs["myflow3"], nil).json(t)
	assert.Contains(t, tmpl["templateYaml"], "unit-test", "create flow --template-file stored the template")

	trailIDs := map[string]map[string]any{}
	for _, flow := range []string{"myflow", "my flow"} {
		page := n.do(t, http.MethodGet, "/api/v1/flows/"+flowIDs[flow]+"/trails?size=100", nil).json(t)
		items, _ := page["items"].([]any)
		for _, it := range items {
			tr := it.(map[string]any)
			trailIDs[tr["name"].(string)] = tr
		}
	}
	for _, name := range []string{"trail-1", "trail-2", "trail-3", "t 1/x"} {
		assert.Contains(t, trailIDs, name)
	}
	require.Contains(t, trailIDs, "trail-1")
	assert.Equal(t, headSha, trailIDs["trail-3"]["gitCommitSha"], "begin trail --commit HEAD")
	trail1 := trailIDs["trail-1"]["id"].(string)

	var digests []string
	for _, a := range n.do(t, http.MethodGet, "/api/v1/trails/"+trail1+"/artifacts", nil).list(t) {
		digests = append(digests, a["sha256Digest"].(string))
	}
	assert.ElementsMatch(t, []string{"sha256:" + fpA, "sha256:" + fpAppTxt, "sha256:" + fpDist}, digests)

	page := n.do(t, http.MethodGet, "/api/v1/trails/"+trail1+"/attestations?size=100", nil).json(t)
	items, _ := page["items"].([]any)
	type att struct{ name, typ, status string }
	var atts []att
	for _, it := range items {
		a := it.(map[string]any)
		name, _ := a["name"].(string)
		atts = append(atts, att{name, a["type"].(string), a["status"].(string)})
	}
	// As replayed, before fixTrail1's re-attestations.
	for _, want := range []att{
		{"jira-ticket", "generic", "FAILED"},
		{"lint", "generic", "PASSED"},
		{"unit-test", "junit", "FAILED"},
		{"snyk", "snyk", "FAILED"},
		{"vulns", "custom:vuln-scan", "PASSED"},
		{"pr", "pull_request", "PASSED"},
	} {
		assert.Contains(t, atts, want)
	}

	var files []string
	for _, e := range n.do(t, http.MethodGet, "/api/v1/trails/"+trail1+"/evidence", nil).list(t) {
		files = append(files, e["fileName"].(string))
	}
	assert.Subset(t, files, []string{"evidence.tgz", "results.xml", "snyk.sarif.json", "app.txt"}, "attachments stored as evidence")
}
