package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// decodeJSON reads one JSON value from the body into v. Unknown fields are
// ignored (existing clients send extras); malformed JSON, a wrong type,
// trailing data and an empty body are errBadJSON; a body over the limit is
// *http.MaxBytesError (413). A body of null leaves v as it was, so a create
// answers for its missing fields.
func decodeJSON(r *http.Request, v any) error {
	return decodeBody(r.Body, v, false)
}

// decodeUpdateJSON is decodeJSON for partial updates, whose fields are all
// optional: a body of null is errBadJSON there, not an update that changes
// nothing.
func decodeUpdateJSON(r *http.Request, v any) error {
	return decodeBody(r.Body, v, true)
}

func decodeBody(rd io.Reader, v any, refuseNull bool) error {
	var watch *firstByteReader
	if refuseNull {
		watch = &firstByteReader{r: rd}
		rd = watch
	}
	dec := json.NewDecoder(rd)
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooLarge):
			return tooLarge
		case errors.Is(err, io.EOF):
			return fmt.Errorf("%w: body is empty", errBadJSON)
		case errors.As(err, &typeErr):
			return fmt.Errorf("%w: field %q must be %s, not %s", errBadJSON, typeErr.Field, typeErr.Type, typeErr.Value)
		default:
			return fmt.Errorf("%w: %w", errBadJSON, err)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return tooLarge
		}
		return fmt.Errorf("%w: unexpected data after the JSON value", errBadJSON)
	}
	if watch != nil && watch.first == 'n' {
		return fmt.Errorf("%w: body is null, not an object", errBadJSON)
	}
	return nil
}

// firstByteReader remembers the first byte of the body that is not JSON
// whitespace, so decodeUpdateJSON can tell a null body from an empty
// object without decoding it twice.
type firstByteReader struct {
	r     io.Reader
	first byte
}

// Read implements io.Reader.
func (f *firstByteReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.first == 0 {
		for _, c := range p[:n] {
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				f.first = c
				break
			}
		}
	}
	return n, err
}

// decodeOptionalJSON is decodeJSON for bodies that may be absent.
func decodeOptionalJSON(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decodeJSON(r, v)
}

// query helpers: each returns errBadParam with the parameter named.

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s must be an integer from %d to %d", errBadParam, name, lo, hi)
	}
	return n, nil
}

func uintParam(r *http.Request, name string) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s must be a non-negative integer", errBadParam, name)
	}
	return n, nil
}

func boolParam(r *http.Request, name string, def bool) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%w: %s must be true or false", errBadParam, name)
	}
	return b, nil
}

func timeParam(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	return parseTime(name, s)
}

func parseTime(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s must be an RFC 3339 time", errBadParam, name)
	}
	return t, nil
}

// isDryRun reports whether the request asks for a dry run: header
// X-Factstore-Dry-Run or X-Dry-Run, or ?dryRun=true (case-insensitive).
func isDryRun(r *http.Request) bool {
	for _, v := range []string{r.Header.Get("X-Factstore-Dry-Run"), r.Header.Get("X-Dry-Run"), r.URL.Query().Get("dryRun")} {
		if strings.EqualFold(strings.TrimSpace(v), "true") {
			return true
		}
	}
	return false
}
