package evidence

import (
	"bytes"
	"errors"
	"regexp"
	"unicode/utf8"
)

// jiraKey matches an issue key such as ABC-123. The word boundaries keep it
// from matching inside longer tokens (abcDEF-1, ABC-1x).
var jiraKey = regexp.MustCompile(`\b[A-Z][A-Z0-9]+-\d+\b`)

type jiraDetails struct {
	IssueRef string `json:"issueRef,omitempty"`
}

// processJira passes iff the file names a Jira issue: plain text containing
// a key, or JSON {"issueRef": ...} / {"key": ...} (a Jira REST issue has key).
// Text without a key is a FAILED attestation, not a malformed file.
func processJira(_ string, content []byte) (bool, any, error) {
	text := content
	// Only "{" means JSON: text such as "[ABC-1] fix login" starts with "[".
	if bytes.HasPrefix(bytes.TrimSpace(content), []byte("{")) {
		var doc struct {
			IssueRef *string `json:"issueRef"`
			Key      *string `json:"key"`
		}
		if err := decodeJSON(content, "Jira JSON", &doc); err != nil {
			return false, nil, err
		}
		switch {
		case doc.IssueRef != nil:
			text = []byte(*doc.IssueRef)
		case doc.Key != nil:
			text = []byte(*doc.Key)
		default:
			return false, nil, errors.New("not Jira JSON: no issueRef or key field")
		}
	} else if !utf8.Valid(content) {
		return false, nil, errors.New("not text: invalid UTF-8")
	}
	key := jiraKey.Find(text)
	return key != nil, jiraDetails{IssueRef: string(key)}, nil
}
