package definitions

import (
	"fmt"
	"strings"
)

// Error is one problem found while loading, located by file and line.
type Error struct {
	// File is the path relative to the loaded directory ("" for directory-wide errors).
	File string
	// Line is 1-based; 0 when unknown.
	Line int
	// Reference is the record's reference where known.
	Reference string
	// Msg describes the problem; it never contains a secret value.
	Msg string
}

// Error formats as "file:line: message" (with the reference when known).
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Reference != "" {
		fmt.Fprintf(&b, "%s: ", e.Reference)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found by one load, sorted by file and line.
type Errors []*Error

// Error joins all errors, one per line.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}
