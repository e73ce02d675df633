package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Statuses a processor can conclude.
const (
	statusPassed = "PASSED"
	statusFailed = "FAILED"
)

// Result is what a processor concluded from an evidence file.
type Result struct {
	Processor string // "junit", "sarif", "snyk", "sonar", "jira"
	Status    string // "PASSED" or "FAILED"
	Details   string // compact JSON object summarising what was found, e.g. {"tests":12,"failures":1,"errors":0,"skipped":2}
}

// ErrUnparseable is wrapped by every error Process returns: the file is not
// what its attestation type promises.
var ErrUnparseable = errors.New("unparseable evidence")

// processor turns file bytes into a status; name is the Result.Processor.
type processor struct {
	name string
	run  func(fileName string, content []byte) (passed bool, details any, err error)
}

// processors is keyed by lower-case attestation type.
var processors = map[string]processor{
	"junit":     {"junit", processJUnit},
	"sarif":     {"sarif", processSARIF},
	"snyk":      {"snyk", processSnyk},
	"sonar":     {"sonar", processSonar},
	"sonarqube": {"sonar", processSonar},
	"jira":      {"jira", processJira},
}

// utf8BOM is stripped up front: Windows tooling (PowerShell's Out-File)
// writes it, and encoding/json rejects it.
var utf8BOM = []byte("\xef\xbb\xbf")

// Process runs the processor for attestationType (matched
// case-insensitively); ok is false when the type has no processor (then
// Result is zero and err nil). fileName is only a hint (a ".sarif" Snyk
// upload is read as SARIF); the content decides.
func Process(attestationType, fileName string, content []byte) (res Result, ok bool, err error) {
	p, ok := processors[strings.ToLower(attestationType)]
	if !ok {
		return Result{}, false, nil
	}
	content = bytes.TrimPrefix(content, utf8BOM)
	if len(bytes.TrimSpace(content)) == 0 {
		return Result{}, true, fmt.Errorf("%w: %s: empty file", ErrUnparseable, p.name)
	}
	passed, details, err := p.run(fileName, content)
	if err != nil {
		return Result{}, true, fmt.Errorf("%w: %s: %w", ErrUnparseable, p.name, err)
	}
	js, err := json.Marshal(details)
	if err != nil {
		return Result{}, true, fmt.Errorf("%w: %s: encoding details: %w", ErrUnparseable, p.name, err)
	}
	res = Result{Processor: p.name, Status: statusFailed, Details: string(js)}
	if passed {
		res.Status = statusPassed
	}
	return res, true, nil
}

// decodeJSON unmarshals a whole file, saying which shape was expected when
// it does not fit.
func decodeJSON(content []byte, what string, v any) error {
	err := json.Unmarshal(content, v)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		// The library's message names Go types; the reason goes to the
		// uploader, who knows only the JSON.
		where := "top level"
		if te.Field != "" {
			where = te.Field
		}
		return fmt.Errorf("not %s: unexpected JSON %s at %s", what, te.Value, where)
	default:
		return fmt.Errorf("not %s: %w", what, err)
	}
}
