package evidence

import (
	"errors"
	"fmt"

	"github.com/owenrumney/go-sarif/v2/sarif"
)

// sarifDetails counts results. Level counts cover unsuppressed results only;
// Results includes the suppressed ones.
type sarifDetails struct {
	Results    int            `json:"results"`
	Error      int            `json:"error"`
	Warning    int            `json:"warning"`
	Note       int            `json:"note"`
	None       int            `json:"none"`
	Suppressed int            `json:"suppressed"`
	Tools      map[string]int `json:"tools"` // results per tool.driver.name
}

func processSARIF(_ string, content []byte) (bool, any, error) {
	d, err := analyseSARIF(content)
	if err != nil {
		return false, nil, err
	}
	return d.Error == 0, d, nil
}

// analyseSARIF validates a SARIF 2.1.0 log and counts its results by level.
func analyseSARIF(content []byte) (sarifDetails, error) {
	d := sarifDetails{Tools: map[string]int{}}
	// The version is checked before go-sarif decodes the whole log: other
	// versions fail on a type mismatch deep inside (SARIF 1.0 messages are
	// strings), and "version 1.0.0" is the more useful reason.
	var probe struct {
		Version string `json:"version"`
	}
	if err := decodeJSON(content, "SARIF", &probe); err != nil {
		return d, err
	}
	if probe.Version != string(sarif.Version210) {
		return d, fmt.Errorf("not SARIF 2.1.0: version %q", probe.Version)
	}
	var report sarif.Report
	if err := decodeJSON(content, "SARIF 2.1.0", &report); err != nil {
		return d, err
	}
	// go-sarif accepts any JSON object, so the required shape is checked here.
	if report.Runs == nil {
		return d, errors.New("not SARIF 2.1.0: no runs array")
	}
	for i, run := range report.Runs {
		if run == nil || run.Tool.Driver == nil {
			return d, fmt.Errorf("run %d has no tool.driver", i)
		}
		// An absent results array means the tool produced none (GitHub code
		// scanning requires it too); only an empty array means "nothing found".
		if run.Results == nil {
			return d, fmt.Errorf("run %d has no results array", i)
		}
		tool := run.Tool.Driver.Name
		rules := ruleFinder{tool: run.Tool}
		d.Tools[tool] += 0 // a clean run still names its tool
		for j, r := range run.Results {
			if r == nil {
				return d, fmt.Errorf("run %d result %d is null", i, j)
			}
			level := effectiveLevel(&rules, r)
			var count *int
			switch level {
			case "error":
				count = &d.Error
			case "warning":
				count = &d.Warning
			case "note":
				count = &d.Note
			case "none":
				count = &d.None
			default:
				return d, fmt.Errorf("run %d result %d has invalid level %q", i, j, level)
			}
			d.Results++
			d.Tools[tool]++
			if suppressed(r) {
				count = &d.Suppressed
			}
			*count++
		}
	}
	return d, nil
}

// effectiveLevel applies SARIF 2.1.0 §3.27.10: an explicit level wins; a
// result whose kind is not "fail" defaults to "none"; otherwise the rule's
// defaultConfiguration.level applies, else "warning". CodeQL relies on the
// rule default: its results carry no level at all.
func effectiveLevel(rules *ruleFinder, r *sarif.Result) string {
	if r.Level != nil {
		return *r.Level
	}
	if r.Kind != nil && *r.Kind != "fail" {
		return "none"
	}
	if rule := rules.find(r); rule != nil && rule.DefaultConfiguration != nil && rule.DefaultConfiguration.Level != "" {
		return rule.DefaultConfiguration.Level
	}
	return "warning"
}

// ruleFinder resolves a result's rule in tool.driver or, when
// rule.toolComponent names one, in that extension (CodeQL query packs), by
// index first and then by id. Ids are indexed per component on first use so
// a log with many rules and results stays linear.
type ruleFinder struct {
	tool   sarif.Tool
	byID   map[*sarif.ToolComponent]map[string]*sarif.ReportingDescriptor
	byName map[string]*sarif.ToolComponent // extensions
}

func (f *ruleFinder) find(r *sarif.Result) *sarif.ReportingDescriptor {
	comp, idx, id := f.tool.Driver, r.RuleIndex, r.RuleID
	if ref := r.Rule; ref != nil {
		if tc := ref.ToolComponent; tc != nil {
			comp = f.extension(tc)
		}
		if idx == nil {
			idx = ref.Index
		}
		if id == nil {
			id = ref.Id
		}
	}
	switch {
	case comp == nil:
		return nil
	case idx != nil && *idx < uint(len(comp.Rules)):
		return comp.Rules[*idx]
	case id == nil:
		return nil
	}
	if f.byID == nil {
		f.byID = map[*sarif.ToolComponent]map[string]*sarif.ReportingDescriptor{}
	}
	ids, ok := f.byID[comp]
	if !ok {
		ids = make(map[string]*sarif.ReportingDescriptor, len(comp.Rules))
		for _, rule := range comp.Rules {
			if rule != nil && ids[rule.ID] == nil {
				ids[rule.ID] = rule
			}
		}
		f.byID[comp] = ids
	}
	return ids[*id]
}

func (f *ruleFinder) extension(ref *sarif.ToolComponentReference) *sarif.ToolComponent {
	exts := f.tool.Extensions
	switch {
	case ref.Index != nil:
		if *ref.Index < uint(len(exts)) {
			return exts[*ref.Index]
		}
		return nil
	case ref.Name == nil:
		return nil
	}
	if f.byName == nil {
		f.byName = make(map[string]*sarif.ToolComponent, len(exts))
		for _, ext := range exts {
			if ext != nil && f.byName[ext.Name] == nil {
				f.byName[ext.Name] = ext
			}
		}
	}
	return f.byName[*ref.Name]
}

// suppressed follows GitHub code scanning and the SARIF SDK: a result is
// suppressed when it has suppressions and none is under review or rejected.
func suppressed(r *sarif.Result) bool {
	if len(r.Suppressions) == 0 {
		return false
	}
	for _, s := range r.Suppressions {
		if s == nil || (s.Status != nil && *s.Status != "accepted") {
			return false
		}
	}
	return true
}
