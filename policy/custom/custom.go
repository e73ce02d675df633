// Package custom evaluates Kosli custom attestation types: a type carries jq
// rules that decide compliance, jq summary expressions for display and an
// optional JSON Schema the attestation data must match (kosli-schemas.md §D).
package custom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Type is a custom attestation type as created through the API.
//
// A Type is a plain value: it may be copied and is safe for concurrent use
// while nobody modifies it. Compiled rules and schemas are cached by
// content, so a modified Type is simply compiled again.
type Type struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Evaluator   *Evaluator      `json:"evaluator,omitempty"`
	Summary     []SummaryItem   `json:"summary,omitempty"`
	Schema      json.RawMessage `json:"typeSchema,omitempty"` // the uploaded JSON Schema, as uploaded
}

// Evaluator holds the rules that decide compliance; every rule must produce
// only true for an attestation to be compliant.
type Evaluator struct {
	ContentType string   `json:"content_type"` // only "jq" is supported
	Rules       []string `json:"rules"`
}

// SummaryItem is one labelled display row: a jq expression evaluated
// against the attestation data. Summaries never affect compliance.
type SummaryItem struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

// ErrInvalid is wrapped by every error caused by a bad type definition or
// bad attestation data (the HTTP layer answers 400).
var ErrInvalid = errors.New("invalid custom attestation type or data")

// ContentTypeJQ is the only evaluator content type Kosli defines.
const ContentTypeJQ = "jq"

// Limits on a definition. Kosli documents none; these only keep a single
// type from costing unbounded evaluation time (each expression runs with
// its own timeout).
const (
	maxRules        = 100
	maxSummaryItems = 100
	maxExprLen      = 16 << 10
	maxSchemaLen    = 1 << 20
)

// nameRule: a letter or digit, then letters, digits, '.', '-', '_', '~'.
var nameRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]{0,254}$`)

// utf8BOM is stripped from uploaded schemas; encoding/json rejects it.
var utf8BOM = []byte("\xef\xbb\xbf")

// Validate checks a type definition: the name rule (starts with a letter or
// digit, then letters, digits, . - _ ~; 1..255 characters), content_type
// "jq" when an evaluator is given, every rule and summary expression
// compiles, and the schema (if any) compiles. Draft-07 and 2020-12 schemas
// are accepted; a schema without $schema is read as 2020-12. A successful
// Validate leaves the compiled form cached for Evaluate.
func (t *Type) Validate() error {
	_, err := t.compile()
	return err
}

// checkDefinition does the checks that need no compiling.
func (t *Type) checkDefinition() error {
	if !nameRule.MatchString(t.Name) {
		return fmt.Errorf("%w: type name %q: must be 1 to 255 characters, start with a letter or digit "+
			"and contain only letters, digits, '.', '-', '_' or '~'", ErrInvalid, t.Name)
	}
	if t.Evaluator != nil {
		if t.Evaluator.ContentType != ContentTypeJQ {
			return fmt.Errorf("%w: evaluator content_type %q: only %q is supported",
				ErrInvalid, t.Evaluator.ContentType, ContentTypeJQ)
		}
		if len(t.Evaluator.Rules) > maxRules {
			return fmt.Errorf("%w: %d rules: at most %d allowed", ErrInvalid, len(t.Evaluator.Rules), maxRules)
		}
		for i, rule := range t.Evaluator.Rules {
			if err := checkExpr(rule); err != nil {
				return fmt.Errorf("%w: rule %d: %w", ErrInvalid, i+1, err)
			}
		}
	}
	if len(t.Summary) > maxSummaryItems {
		return fmt.Errorf("%w: %d summary items: at most %d allowed", ErrInvalid, len(t.Summary), maxSummaryItems)
	}
	for i, item := range t.Summary {
		if strings.TrimSpace(item.Name) == "" {
			return fmt.Errorf("%w: summary item %d: empty name", ErrInvalid, i+1)
		}
		if err := checkExpr(item.Expression); err != nil {
			return fmt.Errorf("%w: summary %q: %w", ErrInvalid, item.Name, err)
		}
	}
	if len(t.schemaBytes()) > maxSchemaLen {
		return fmt.Errorf("%w: schema larger than %d bytes", ErrInvalid, maxSchemaLen)
	}
	return nil
}

func checkExpr(expr string) error {
	switch {
	case strings.TrimSpace(expr) == "":
		return errors.New("empty jq expression")
	case len(expr) > maxExprLen:
		return fmt.Errorf("jq expression longer than %d bytes", maxExprLen)
	}
	return nil
}

// rules returns the jq rules, none when there is no evaluator.
func (t *Type) rules() []string {
	if t.Evaluator == nil {
		return nil
	}
	return t.Evaluator.Rules
}

// schemaBytes returns the uploaded schema without BOM and surrounding
// space; nil when there is none (absent, empty or JSON null).
func (t *Type) schemaBytes() []byte {
	s := bytes.TrimSpace(bytes.TrimPrefix(t.Schema, utf8BOM))
	if len(s) == 0 || string(s) == "null" {
		return nil
	}
	return s
}
