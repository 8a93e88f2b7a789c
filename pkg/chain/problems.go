package chain

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a Problem stops a chain file from loading.
type Severity int

const (
	// SeverityError is a problem that makes the chain unusable; Parse fails.
	SeverityError Severity = iota
	// SeverityWarning is a problem the chain can run with; Parse succeeds and
	// keeps it in Chain.Warnings so that lint can show it.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Problem is one finding in a chain file, placed at the line and column of
// the key or value it is about, so an editor can jump to it.
type Problem struct {
	Line     int      // 1-based
	Col      int      // 1-based
	Path     string   // the field, like "receivers[1].url"; "" for the whole file
	Message  string   // what is wrong, one line; never a secret value
	Fix      string   // how to fix it, one line; may be empty
	Severity Severity // error or warning
}

// String formats the problem as "line:col: message; fix", with "warning: "
// before the message for warnings.
func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d:%d: ", p.Line, p.Col)
	if p.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Message)
	if p.Fix != "" {
		b.WriteString("; ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// LintError is every problem found in one chain file. Parse and Load return it
// when at least one problem is an error; it also carries the warnings so that
// one run shows everything.
type LintError struct {
	File     string
	Problems []Problem // sorted by line, then column
}

// Error formats one "file:line:col: message; fix" line per problem, the shape
// compilers use, so editors and CI annotate the file.
func (e *LintError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = e.File + ":" + p.String()
	}
	return strings.Join(lines, "\n")
}

// Errors returns the problems that are errors, without the warnings.
func (e *LintError) Errors() []Problem {
	var out []Problem
	for _, p := range e.Problems {
		if p.Severity == SeverityError {
			out = append(out, p)
		}
	}
	return out
}

// sortProblems orders problems by position, keeping the order they were
// found in for problems at the same place.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
}
