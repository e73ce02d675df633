package evidence_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/policy/evidence"
)

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	content, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return content
}

func TestProcess_samples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ, file, processor, status, details string
	}{
		{"junit", "junit-pass.xml", "junit", "PASSED", `{"tests":6,"failures":0,"errors":0,"skipped":1}`},
		{"junit", "junit-fail.xml", "junit", "FAILED", `{"tests":7,"failures":2,"errors":0,"skipped":1}`},
		{"junit", "junit-error.xml", "junit", "FAILED", `{"tests":5,"failures":0,"errors":1,"skipped":0}`},
		{"sarif", "sarif-clean.sarif", "sarif", "PASSED",
			`{"results":3,"error":0,"warning":2,"note":1,"none":0,"suppressed":0,"tools":{"Semgrep OSS":3}}`},
		// CodeQL results carry no level: the error comes from the rule's
		// defaultConfiguration in the query-pack extension.
		{"sarif", "sarif-error.sarif", "sarif", "FAILED",
			`{"results":2,"error":1,"warning":1,"note":0,"none":0,"suppressed":0,"tools":{"CodeQL":2}}`},
		{"snyk", "snyk-clean.json", "snyk", "PASSED",
			`{"format":"snyk","projects":1,"vulnerabilities":0,"paths":0,"critical":0,"high":0,"medium":0,"low":0,"ok":true}`},
		{"snyk", "snyk-vulns.json", "snyk", "FAILED",
			`{"format":"snyk","projects":1,"vulnerabilities":3,"paths":4,"critical":1,"high":1,"medium":1,"low":0,"ok":false}`},
		{"snyk", "snyk-multi.json", "snyk", "FAILED",
			`{"format":"snyk","projects":2,"vulnerabilities":2,"paths":2,"critical":0,"high":1,"medium":1,"low":0,"ok":false}`},
		{"snyk", "snyk-vulns.sarif", "snyk", "FAILED",
			`{"format":"sarif","results":3,"error":2,"warning":1,"note":0,"none":0,"suppressed":0,"tools":{"Snyk Open Source":3}}`},
		{"snyk", "sarif-clean.sarif", "snyk", "PASSED",
			`{"format":"sarif","results":3,"error":0,"warning":2,"note":1,"none":0,"suppressed":0,"tools":{"Semgrep OSS":3}}`},
		{"sonar", "sonar-ok.json", "sonar", "PASSED", `{"status":"OK","conditions":6,"failedConditions":[]}`},
		{"sonarqube", "sonar-error.json", "sonar", "FAILED",
			`{"status":"ERROR","conditions":6,"failedConditions":["new_security_rating","new_coverage"]}`},
		{"jira", "jira.txt", "jira", "PASSED", `{"issueRef":"OPS-1421"}`},
		{"jira", "jira.json", "jira", "PASSED", `{"issueRef":"OPS-1421"}`},
		{"jira", "jira-nokey.txt", "jira", "FAILED", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.file, func(t *testing.T) {
			t.Parallel()
			res, ok, err := evidence.Process(tt.typ, tt.file, readSample(t, tt.file))
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, tt.processor, res.Processor)
			assert.Equal(t, tt.status, res.Status)
			assert.JSONEq(t, tt.details, res.Details)
		})
	}
}

func TestProcess_inline(t *testing.T) {
	t.Parallel()
	const sarifRun = `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t","rules":[{"id":"R1","defaultConfiguration":{"level":"error"}}]}},"results":[%s]}]}`
	sarifWith := func(results string) string { return fmt.Sprintf(sarifRun, results) }
	tests := []struct {
		name, typ, fileName, content, status, details string
	}{
		{"type is case-insensitive", "JUnit", "r.xml", `<testsuite><testcase name="a"/></testsuite>`, "PASSED",
			`{"tests":1,"failures":0,"errors":0,"skipped":0}`},
		{"empty testsuites is a run of nothing", "junit", "r.xml", `<?xml version="1.0"?><testsuites/>`, "PASSED",
			`{"tests":0,"failures":0,"errors":0,"skipped":0}`},
		{"byte order mark", "sonar", "gate.json", "\ufeff" + `{"projectStatus":{"status":"OK"}}`, "PASSED",
			`{"status":"OK","conditions":0,"failedConditions":[]}`},
		{"sonar WARN fails", "sonar", "gate.json", `{"projectStatus":{"status":"WARN","conditions":[{"status":"WARN","metricKey":"coverage"}]}}`,
			"FAILED", `{"status":"WARN","conditions":1,"failedConditions":["coverage"]}`},
		{"sarif explicit error level", "sarif", "r.sarif", sarifWith(`{"level":"error","message":{"text":"x"}}`), "FAILED",
			`{"results":1,"error":1,"warning":0,"note":0,"none":0,"suppressed":0,"tools":{"t":1}}`},
		{"sarif rule default by ruleId", "sarif", "r.sarif", sarifWith(`{"ruleId":"R1","message":{"text":"x"}}`), "FAILED",
			`{"results":1,"error":1,"warning":0,"note":0,"none":0,"suppressed":0,"tools":{"t":1}}`},
		{"sarif explicit level beats rule default", "sarif", "r.sarif", sarifWith(`{"ruleId":"R1","level":"note","message":{"text":"x"}}`), "PASSED",
			`{"results":1,"error":0,"warning":0,"note":1,"none":0,"suppressed":0,"tools":{"t":1}}`},
		{"sarif no level no rule is warning", "sarif", "r.sarif", sarifWith(`{"ruleId":"other","message":{"text":"x"}}`), "PASSED",
			`{"results":1,"error":0,"warning":1,"note":0,"none":0,"suppressed":0,"tools":{"t":1}}`},
		{"sarif kind pass is none", "sarif", "r.sarif", sarifWith(`{"ruleId":"R1","kind":"pass","message":{"text":"x"}}`), "PASSED",
			`{"results":1,"error":0,"warning":0,"note":0,"none":1,"suppressed":0,"tools":{"t":1}}`},
		{"sarif suppressed error", "sarif", "r.sarif", sarifWith(`{"ruleId":"R1","suppressions":[{"kind":"inSource"}],"message":{"text":"x"}}`), "PASSED",
			`{"results":1,"error":0,"warning":0,"note":0,"none":0,"suppressed":1,"tools":{"t":1}}`},
		{"sarif suppression under review still fails", "sarif", "r.sarif",
			sarifWith(`{"ruleId":"R1","suppressions":[{"kind":"external","status":"underReview"}],"message":{"text":"x"}}`), "FAILED",
			`{"results":1,"error":1,"warning":0,"note":0,"none":0,"suppressed":0,"tools":{"t":1}}`},
		{"sarif rule in extension named by toolComponent", "sarif", "r.sarif",
			`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t"},"extensions":[{"name":"pack","rules":[{"id":"R9","defaultConfiguration":{"level":"error"}}]}]},` +
				`"results":[{"rule":{"id":"R9","toolComponent":{"name":"pack"}},"message":{"text":"x"}}]}]}`, "FAILED",
			`{"results":1,"error":1,"warning":0,"note":0,"none":0,"suppressed":0,"tools":{"t":1}}`},
		{"sarif empty runs", "sarif", "r.sarif", `{"version":"2.1.0","runs":[]}`, "PASSED",
			`{"results":0,"error":0,"warning":0,"note":0,"none":0,"suppressed":0,"tools":{}}`},
		{"snyk ok false without vulnerabilities fails closed", "snyk", "snyk.json", `{"ok":false,"vulnerabilities":[]}`, "FAILED",
			`{"format":"snyk","projects":1,"vulnerabilities":0,"paths":0,"critical":0,"high":0,"medium":0,"low":0,"ok":false}`},
		{"snyk .sarif name selects SARIF", "snyk", "snyk.sarif", `{"version":"2.1.0","runs":[]}`, "PASSED",
			`{"format":"sarif","results":0,"error":0,"warning":0,"note":0,"none":0,"suppressed":0,"tools":{}}`},
		{"jira bracketed key", "jira", "msg.txt", "[ABC-12] fix login\n", "PASSED", `{"issueRef":"ABC-12"}`},
		{"jira REST issue key", "jira", "issue.json", `{"id":"10002","key":"PLAT-7","fields":{"summary":"x"}}`, "PASSED", `{"issueRef":"PLAT-7"}`},
		{"jira issueRef without key", "jira", "j.json", `{"issueRef":"tbd"}`, "FAILED", `{}`},
		{"jira key inside a word", "jira", "msg.txt", "see abcDEF-12x", "FAILED", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, ok, err := evidence.Process(tt.typ, tt.fileName, []byte(tt.content))
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, tt.status, res.Status)
			assert.JSONEq(t, tt.details, res.Details)
		})
	}
}

func TestProcess_unparseable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, typ, file, content, reason string
	}{
		{name: "junit truncated", typ: "junit", file: "junit-malformed.xml", reason: "junit: not JUnit XML: XML syntax error"},
		{name: "junit other XML", typ: "junit", file: "junit-not-junit.xml", reason: "junit: not JUnit XML: no <testsuites> or <testsuite> element"},
		{name: "junit plain text", typ: "junit", content: "ok  \tgithub.com/acme/shop\t0.412s", reason: "no <testsuites> or <testsuite>"},
		{name: "junit testcase outside suite", typ: "junit", content: `<testsuites><testcase name="a"><failure/></testcase></testsuites>`,
			reason: "1 of 1 <testcase> elements are outside a <testsuite>"},
		{name: "junit fake-root injection", typ: "junit", content: `<testsuite/></fake-root><testsuite><testcase><failure/></testcase></testsuite>`,
			reason: "XML syntax error"},
		{name: "junit too deep", typ: "junit", content: "<testsuite>" + strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40) + "</testsuite>",
			reason: "nested deeper than 32"},
		{name: "junit empty", typ: "junit", content: " \n", reason: "junit: empty file"},
		{name: "sarif truncated", typ: "sarif", file: "sarif-malformed.sarif", reason: "sarif: not SARIF: unexpected end of JSON input"},
		{name: "sarif 1.0", typ: "sarif", file: "sarif-wrong-version.sarif", reason: `sarif: not SARIF 2.1.0: version "1.0.0"`},
		{name: "sarif without runs", typ: "sarif", content: `{"version":"2.1.0"}`, reason: "no runs array"},
		{name: "sarif run without results", typ: "sarif", content: `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t"}}}]}`,
			reason: "run 0 has no results array"},
		{name: "sarif null run", typ: "sarif", content: `{"version":"2.1.0","runs":[null]}`, reason: "run 0 has no tool.driver"},
		{name: "sarif invalid level", typ: "sarif", content: `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t"}},"results":[{"level":"critical","message":{}}]}]}`,
			reason: `run 0 result 0 has invalid level "critical"`},
		{name: "sarif wrong type", typ: "sarif", content: `{"version":"2.1.0","runs":{}}`, reason: "unexpected JSON object at runs"},
		{name: "snyk truncated", typ: "snyk", file: "snyk-malformed.json", reason: "snyk: not Snyk JSON"},
		{name: "snyk CLI error", typ: "snyk", file: "snyk-error.json", reason: "snyk: snyk reported an error instead of results: Could not detect supported target files"},
		{name: "snyk other JSON", typ: "snyk", file: "sonar-ok.json", reason: "project 0 has no vulnerabilities array"},
		{name: "snyk empty array", typ: "snyk", content: "[]", reason: "empty project list"},
		{name: "snyk bad SARIF", typ: "snyk", file: "sarif-wrong-version.sarif", reason: "snyk: not SARIF 2.1.0"},
		{name: "sonar API error", typ: "sonar", file: "sonar-malformed.json", reason: "sonar: not SonarQube quality gate JSON: no projectStatus.status"},
		{name: "sonar array", typ: "sonar", content: "[1]", reason: "unexpected JSON array at top level"},
		{name: "jira garbled JSON", typ: "jira", file: "jira-malformed.json", reason: "jira: not Jira JSON"},
		{name: "jira JSON without ref", typ: "jira", content: `{"summary":"ABC-1"}`, reason: "no issueRef or key field"},
		{name: "jira binary", typ: "jira", content: "\xff\xfe\x00A\x00B", reason: "invalid UTF-8"},
		{name: "jira empty", typ: "jira", content: "", reason: "jira: empty file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			content := []byte(tt.content)
			if tt.file != "" {
				content = readSample(t, tt.file)
			}
			res, ok, err := evidence.Process(tt.typ, tt.file, content)
			require.ErrorIs(t, err, evidence.ErrUnparseable)
			require.ErrorContains(t, err, tt.reason)
			assert.True(t, ok)
			assert.Zero(t, res)
		})
	}
}

func TestProcess_noProcessor(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"", "generic", "pull-request", "junit-xml", " junit"} {
		res, ok, err := evidence.Process(typ, "x", []byte("anything"))
		require.NoError(t, err, typ)
		assert.False(t, ok, typ)
		assert.Zero(t, res, typ)
	}
}

// FuzzProcess feeds every processor the same bytes: none may panic, and a
// success must be a definite PASSED or FAILED with JSON details.
func FuzzProcess(f *testing.F) {
	samples, err := filepath.Glob(filepath.Join("testdata", "*.*"))
	require.NoError(f, err)
	for _, name := range samples {
		content, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(filepath.Base(name), content)
	}
	f.Add("x.sarif", []byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t","rules":[null]},"extensions":[null]},"results":[{"ruleIndex":0,"rule":{"toolComponent":{"index":0}}}]}]}`))
	f.Add("x.json", []byte(`[null,{"vulnerabilities":null}]`))
	f.Fuzz(func(t *testing.T, fileName string, content []byte) {
		for _, typ := range []string{"junit", "sarif", "snyk", "sonar", "jira"} {
			res, ok, err := evidence.Process(typ, fileName, content)
			if !ok {
				t.Fatalf("%s: no processor", typ)
			}
			if err != nil {
				if !errors.Is(err, evidence.ErrUnparseable) || res != (evidence.Result{}) {
					t.Fatalf("%s: error %v with result %+v", typ, err, res)
				}
				continue
			}
			if res.Status != "PASSED" && res.Status != "FAILED" {
				t.Fatalf("%s: status %q", typ, res.Status)
			}
			if !json.Valid([]byte(res.Details)) {
				t.Fatalf("%s: details not JSON: %s", typ, res.Details)
			}
		}
	})
}
