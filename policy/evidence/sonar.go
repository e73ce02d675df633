package evidence

import "errors"

// sonarGate is the response of SonarQube's api/qualitygates/project_status.
type sonarGate struct {
	ProjectStatus *struct {
		Status     string `json:"status"`
		Conditions []struct {
			Status    string `json:"status"`
			MetricKey string `json:"metricKey"`
		} `json:"conditions"`
	} `json:"projectStatus"`
}

type sonarDetails struct {
	Status           string   `json:"status"`
	Conditions       int      `json:"conditions"`
	FailedConditions []string `json:"failedConditions"` // metric keys of ERROR/WARN conditions
}

// processSonar passes iff the quality gate status is OK; WARN, ERROR and
// NONE (no gate configured) fail.
func processSonar(_ string, content []byte) (bool, any, error) {
	var gate sonarGate
	if err := decodeJSON(content, "SonarQube quality gate JSON", &gate); err != nil {
		return false, nil, err
	}
	ps := gate.ProjectStatus
	if ps == nil || ps.Status == "" {
		return false, nil, errors.New("not SonarQube quality gate JSON: no projectStatus.status")
	}
	d := sonarDetails{Status: ps.Status, Conditions: len(ps.Conditions), FailedConditions: []string{}}
	for _, c := range ps.Conditions {
		if c.Status == "ERROR" || c.Status == "WARN" {
			d.FailedConditions = append(d.FailedConditions, c.MetricKey)
		}
	}
	return ps.Status == "OK", d, nil
}
