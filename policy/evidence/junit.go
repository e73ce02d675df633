package evidence

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	junit "github.com/joshdk/go-junit"
)

// maxXMLDepth bounds element nesting. go-junit keeps every element's inner
// XML, so memory grows with size × depth; real reports nest a handful of
// levels (testsuites > testsuite > testcase > failure).
const maxXMLDepth = 32

type junitDetails struct {
	Tests    int `json:"tests"`
	Failures int `json:"failures"`
	Errors   int `json:"errors"`
	Skipped  int `json:"skipped"`
}

// processJUnit passes iff no testcase failed or errored.
func processJUnit(_ string, content []byte) (bool, any, error) {
	// go-junit wraps input in a fake root and ignores whatever follows it, and
	// finds nothing (rather than failing) in arbitrary XML, so shape and
	// well-formedness are checked here first.
	suites, testcases, err := scanJUnit(content)
	if err != nil {
		return false, nil, fmt.Errorf("not JUnit XML: %w", err)
	}
	if suites == 0 {
		return false, nil, errors.New("not JUnit XML: no <testsuites> or <testsuite> element")
	}
	parsed, err := junit.Ingest(content)
	if err != nil {
		return false, nil, fmt.Errorf("not JUnit XML: %w", err)
	}
	var d junitDetails
	for _, s := range parsed {
		d.Tests += s.Totals.Tests
		d.Failures += s.Totals.Failed
		d.Errors += s.Totals.Error
		d.Skipped += s.Totals.Skipped
	}
	// go-junit only counts a <testcase> that is a direct child of a
	// <testsuite>; refuse rather than pass a file whose failures it missed.
	if d.Tests != testcases {
		return false, nil, fmt.Errorf("not JUnit XML: %d of %d <testcase> elements are outside a <testsuite>", testcases-d.Tests, testcases)
	}
	return d.Failures+d.Errors == 0, d, nil
}

// scanJUnit checks that content is well-formed XML of bounded depth and
// counts its suite (<testsuites>/<testsuite>) and <testcase> elements.
func scanJUnit(content []byte) (suites, testcases int, err error) {
	dec := xml.NewDecoder(bytes.NewReader(content))
	depth := 0
	for {
		tok, terr := dec.Token()
		if errors.Is(terr, io.EOF) {
			return suites, testcases, nil
		}
		if terr != nil {
			return 0, 0, terr
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxXMLDepth {
				return 0, 0, fmt.Errorf("elements nested deeper than %d", maxXMLDepth)
			}
			switch t.Name.Local {
			case "testsuites", "testsuite":
				suites++
			case "testcase":
				testcases++
			}
		case xml.EndElement:
			depth--
		}
	}
}
