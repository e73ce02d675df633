package custom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/itchyny/gojq"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Result is the outcome of evaluating attestation data against a type.
type Result struct {
	Compliant bool           `json:"compliant"`
	Rules     []RuleOutcome  `json:"rules"`   // one per rule, in order
	Summary   []SummaryValue `json:"summary"` // evaluated summary rows (display only)
}

// RuleOutcome is what one jq rule concluded. Error explains a rule that did
// not pass for a reason other than producing false.
type RuleOutcome struct {
	Rule   string `json:"rule"`
	Passed bool   `json:"passed"`
	Error  string `json:"error,omitempty"`
}

// SummaryValue is one evaluated summary row. Value is the expression's only
// output, an array of its outputs when it gave several, or nil when it gave
// none or failed (then Error says why).
type SummaryValue struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
	Error string `json:"error,omitempty"`
}

// Bounds on one evaluation, so a hostile expression cannot hang the server
// or flood the response.
const (
	exprTimeout        = time.Second      // per rule and per summary expression
	evalTimeout        = 10 * time.Second // per Evaluate, all expressions together
	maxRuleOutputs     = 10_000           // a rule over a large list may emit one boolean per element
	maxSummaryOutputs  = 1_000
	maxSummaryValueLen = 64 << 10 // bytes of JSON
	maxMessageLen      = 512
	maxSchemaErrors    = 5
)

var (
	errTimeout   = fmt.Errorf("evaluation stopped: time limit of %s per expression exceeded", exprTimeout)
	errBudget    = fmt.Errorf("evaluation stopped: time limit of %s per attestation exhausted", evalTimeout)
	errNoOutput  = errors.New("produced no output")
	errTooMany   = errors.New("produced too many outputs")
	errTooLarge  = fmt.Errorf("value larger than %d bytes", maxSummaryValueLen)
	errUnhandled = errors.New("jq evaluation failed")
)

// Evaluate validates data against the schema (a mismatch is an ErrInvalid
// error naming the failing location) and runs every jq rule against data
// as the root: compliant only if every rule produces only true (false,
// errors, non-boolean or no output are not true); no rules means
// compliant. Summary expressions are evaluated for display and never
// affect compliance.
//
// data is a decoded JSON value or a json.RawMessage; anything else is
// passed through encoding/json first. Each expression runs with its own
// timeout and output limit, and all of them share an overall time budget;
// an expression stopped by either fails (a rule) or shows an error (a
// summary row). Only a bad definition or bad data (ErrInvalid, which
// includes rules that pass the memory limit), a cancelled ctx, or no free
// evaluation slot (ErrBusy; see memguard.go) make Evaluate fail.
func (t *Type) Evaluate(ctx context.Context, data any) (Result, error) {
	prog, err := t.compile()
	if err != nil {
		return Result{}, err
	}
	input, err := normalize(data)
	if err != nil {
		return Result{}, fmt.Errorf("%w: attestation data: %w", ErrInvalid, err)
	}
	if prog.schema != nil {
		if verr := prog.schema.Validate(input); verr != nil {
			return Result{}, fmt.Errorf("%w: attestation data does not match the schema of type %q: %s",
				ErrInvalid, t.Name, describeSchemaError(verr))
		}
	}

	budget, cancel := context.WithTimeoutCause(ctx, evalTimeout, errBudget)
	defer cancel()
	budget, release, err := guardMemory(budget, evalHeapLimit)
	if err != nil {
		return Result{}, fmt.Errorf("evaluate custom type %q: %w", t.Name, err)
	}
	defer release()
	res := Result{Compliant: true, Rules: make([]RuleOutcome, len(prog.rules)), Summary: make([]SummaryValue, len(prog.summary))}
	rules := t.rules()
	for i, code := range prog.rules {
		res.Rules[i] = evalRule(budget, code, input)
		res.Rules[i].Rule = rules[i]
		res.Compliant = res.Compliant && res.Rules[i].Passed
	}
	for i, code := range prog.summary {
		res.Summary[i] = evalSummary(budget, code, input)
		res.Summary[i].Name = t.Summary[i].Name
	}
	// A cancelled caller, or an evaluation stopped at the memory limit, must
	// not turn into a stored non-compliance.
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("evaluate custom type %q: %w", t.Name, err)
	}
	if cause := context.Cause(budget); errors.Is(cause, errHeapLimit) {
		return Result{}, fmt.Errorf("evaluate custom type %q: %w", t.Name, cause)
	}
	return res, nil
}

// normalize turns data into the values gojq and jsonschema both take:
// map[string]any, []any, json.Number, string, bool and nil.
func normalize(data any) (any, error) {
	raw, ok := data.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return nil, err
		}
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

// evalRule passes only when the rule emits at least one value and every
// value is true.
func evalRule(ctx context.Context, code *gojq.Code, input any) RuleOutcome {
	passed, n := true, 0
	var why error
	err := run(ctx, code, input, func(v any) bool {
		n++
		if b, ok := v.(bool); !ok || !b {
			passed = false
			if !ok {
				why = fmt.Errorf("output is not a boolean: %s", gojq.Preview(v))
			}
			return false
		}
		if n > maxRuleOutputs {
			passed, why = false, fmt.Errorf("%w (more than %d)", errTooMany, maxRuleOutputs)
			return false
		}
		return true
	})
	switch {
	case err != nil:
		passed, why = false, err
	case n == 0:
		passed, why = false, errNoOutput
	}
	out := RuleOutcome{Passed: passed}
	if why != nil {
		out.Error = truncate(why.Error())
	}
	return out
}

func evalSummary(ctx context.Context, code *gojq.Code, input any) SummaryValue {
	var outputs []any
	err := run(ctx, code, input, func(v any) bool {
		outputs = append(outputs, v)
		return len(outputs) <= maxSummaryOutputs
	})
	if err == nil && len(outputs) > maxSummaryOutputs {
		err = fmt.Errorf("%w (more than %d)", errTooMany, maxSummaryOutputs)
	}
	var value any
	if err == nil {
		switch len(outputs) {
		case 0:
		case 1:
			value, err = jsonValue(outputs[0])
		default:
			value, err = jsonValue(outputs)
		}
	}
	if err != nil {
		return SummaryValue{Error: truncate(err.Error())}
	}
	return SummaryValue{Value: value}
}

// jsonValue makes a jq value safe to encode: gojq.Marshal writes NaN as
// null and infinities as the largest float, which encoding/json refuses.
func jsonValue(v any) (any, error) {
	raw, err := gojq.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(raw) > maxSummaryValueLen {
		return nil, errTooLarge
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

// run feeds code's outputs to visit until it returns false or the outputs
// end. A jq error, the timeout or a panic inside gojq is returned.
func run(ctx context.Context, code *gojq.Code, input any, visit func(any) bool) (err error) {
	ctx, cancel := context.WithTimeoutCause(ctx, exprTimeout, errTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errUnhandled, r)
		}
	}()
	iter := code.RunWithContext(ctx, input)
	for {
		v, ok := iter.Next()
		if !ok {
			return nil
		}
		if e, isErr := v.(error); isErr {
			if cause := context.Cause(ctx); errors.Is(cause, errHeapLimit) || errors.Is(cause, errBudget) || errors.Is(cause, errTimeout) {
				return cause
			}
			return jqError(e)
		}
		if !visit(v) {
			return nil
		}
	}
}

func jqError(err error) error {
	var halt *gojq.HaltError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errTimeout
	case errors.As(err, &halt):
		if halt.Value() == nil {
			return errors.New("halted")
		}
		return fmt.Errorf("halted: %s", gojq.Preview(halt.Value()))
	}
	return err
}

// describeSchemaError names the first failing locations of a validation
// error on one line, e.g. "at '/critical': got string, want integer".
func describeSchemaError(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return truncate(oneLine(err.Error()))
	}
	var msgs []string
	var walk func(u jsonschema.OutputUnit)
	walk = func(u jsonschema.OutputUnit) {
		if len(u.Errors) == 0 && u.Error != nil {
			loc := "(root)"
			if u.InstanceLocation != "" {
				loc = "'" + u.InstanceLocation + "'"
			}
			msgs = append(msgs, fmt.Sprintf("at %s: %s", loc, u.Error))
		}
		for _, c := range u.Errors {
			walk(c)
		}
	}
	walk(*ve.DetailedOutput())
	if len(msgs) > maxSchemaErrors {
		msgs = append(msgs[:maxSchemaErrors], fmt.Sprintf("and %d more", len(msgs)-maxSchemaErrors))
	}
	return truncate(strings.Join(msgs, "; "))
}

// truncate keeps messages short: jq errors can quote large values.
func truncate(s string) string {
	if len(s) <= maxMessageLen {
		return s
	}
	cut := maxMessageLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
