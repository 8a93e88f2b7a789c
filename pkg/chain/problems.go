package chain

import (
	"fmt"
	"sort"
	"strconv"
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
// MarshalText writes "error" or "warning", as JSON documents show it.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

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

// quote writes a value from the chain file into problem text, Go-quoted so
// that control characters show, with what may be the user:password@ part
// of a URL redacted: a URL pasted into the wrong field keeps its
// credentials out of lint output, CI logs and bug reports.
func quote(s string) string { return strconv.Quote(redactUserinfo(s, false)) }

// quoteURL is quote for a URL field, where every '@' may end a userinfo.
func quoteURL(s string) string { return strconv.Quote(redactUserinfo(s, true)) }

// redactUserinfo replaces what may be a URL's userinfo with "(redacted)":
// everything from the scheme's "//" (or the start) to the last '@'. The
// last, not the first: a password may hold '@', '/' or '#', and browsers
// disagree with net/url about where such an authority ends, so more is
// hidden rather than less. In a URL field every '@' counts, as a token
// alone makes a userinfo (https://ghp_token@github.com); in other text only
// an '@' after "//" or ':' does, so an email address stays readable.
func redactUserinfo(s string, urlField bool) string {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	start := 0
	switch i := strings.Index(s[:at], "//"); {
	case i >= 0:
		start = i + 2
	case !urlField && !strings.Contains(s[:at], ":"):
		return s
	}
	return s[:start] + "(redacted)" + s[at:]
}
