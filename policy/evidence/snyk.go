package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// snykProject is the part of `snyk test --json` output (one object per
// project; --all-projects prints an array of them) that decides the status.
type snykProject struct {
	OK              *bool           `json:"ok"`
	Error           json.RawMessage `json:"error"` // set instead of vulnerabilities when the CLI itself failed
	Vulnerabilities *[]struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
	} `json:"vulnerabilities"`
}

// snykDetails counts distinct issues per project; Paths is the raw length
// of the vulnerabilities arrays, which list an issue once per dependency path.
type snykDetails struct {
	Format          string `json:"format"`
	Projects        int    `json:"projects"`
	Vulnerabilities int    `json:"vulnerabilities"`
	Paths           int    `json:"paths"`
	Critical        int    `json:"critical"`
	High            int    `json:"high"`
	Medium          int    `json:"medium"`
	Low             int    `json:"low"`
	Other           int    `json:"other,omitempty"`
	OK              *bool  `json:"ok,omitempty"` // false if any project said ok:false
}

type snykSARIFDetails struct {
	Format string `json:"format"`
	sarifDetails
}

// processSnyk reads Snyk JSON or, from `snyk ... --sarif`, SARIF. Snyk JSON
// fails on any vulnerability or ok:false; SARIF on any error-level result.
func processSnyk(fileName string, content []byte) (bool, any, error) {
	if isSARIF(fileName, content) {
		d, err := analyseSARIF(content)
		if err != nil {
			return false, nil, err
		}
		return d.Error == 0, snykSARIFDetails{Format: "sarif", sarifDetails: d}, nil
	}
	var projects []snykProject
	if bytes.HasPrefix(bytes.TrimSpace(content), []byte("[")) {
		if err := decodeJSON(content, "Snyk JSON", &projects); err != nil {
			return false, nil, err
		}
		if len(projects) == 0 {
			return false, nil, errors.New("not Snyk JSON: empty project list")
		}
	} else {
		var p snykProject
		if err := decodeJSON(content, "Snyk JSON", &p); err != nil {
			return false, nil, err
		}
		projects = []snykProject{p}
	}

	d := snykDetails{Format: "snyk", Projects: len(projects)}
	for i, p := range projects {
		if p.Vulnerabilities == nil {
			var msg string
			if json.Unmarshal(p.Error, &msg) == nil && msg != "" {
				return false, nil, fmt.Errorf("snyk reported an error instead of results: %s", msg)
			}
			return false, nil, fmt.Errorf("not Snyk JSON: project %d has no vulnerabilities array", i)
		}
		if p.OK != nil {
			ok := *p.OK && (d.OK == nil || *d.OK)
			d.OK = &ok
		}
		seen := map[string]bool{}
		for _, v := range *p.Vulnerabilities {
			d.Paths++
			if v.ID != "" && seen[v.ID] {
				continue
			}
			seen[v.ID] = true
			d.Vulnerabilities++
			switch strings.ToLower(v.Severity) {
			case "critical":
				d.Critical++
			case "high":
				d.High++
			case "medium":
				d.Medium++
			case "low":
				d.Low++
			default:
				d.Other++
			}
		}
	}
	return d.Vulnerabilities == 0 && (d.OK == nil || *d.OK), d, nil
}

// isSARIF tells SARIF from Snyk JSON by extension, $schema, or a
// version+runs pair (which Snyk JSON never has).
func isSARIF(fileName string, content []byte) bool {
	if strings.EqualFold(filepath.Ext(fileName), ".sarif") {
		return true
	}
	var probe struct {
		Schema  string          `json:"$schema"`
		Version json.RawMessage `json:"version"`
		Runs    json.RawMessage `json:"runs"`
	}
	if json.Unmarshal(content, &probe) != nil {
		return false
	}
	return strings.Contains(strings.ToLower(probe.Schema), "sarif") || (probe.Version != nil && probe.Runs != nil)
}
