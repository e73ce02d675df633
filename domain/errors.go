package domain

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound means the command or query names something that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the command contradicts existing state (a duplicate name).
	ErrConflict = errors.New("conflict")
	// ErrInvalid means the input is malformed or breaks a field rule.
	ErrInvalid = errors.New("invalid input")
)

// FieldError is a validation failure of one field; it wraps ErrInvalid.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Invalid builds a FieldError.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// NotFound builds an ErrNotFound with the kind and id named.
func NotFound(kind, id string) error {
	return fmt.Errorf("%s %q %w", kind, id, ErrNotFound)
}

// Conflict builds an ErrConflict with a message.
func Conflict(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}
