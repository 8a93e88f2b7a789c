package tracecmd

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// JUnit XML as CI systems read it (Jenkins, GitLab, GitHub reporters; the
// de-facto schema that grew out of Ant's): <testsuites> holding one
// <testsuite>, a <testcase> per hop, expectation and probe, and one for
// the walk as a whole. A hop fails when it has an error finding, errors
// when its request got no answer; an expectation fails when not met; a
// probe fails when accepted and is skipped when it could not run. Times
// are seconds. encoding/xml escapes every attribute and text, and replaces
// what XML 1.0 cannot hold (terminal escapes, say) with U+FFFD.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitSkipped `xml:"skipped"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	SystemOut *junitText    `xml:"system-out"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// junitText is multi-line text, kept readable in a CI log as CDATA
// (encoding/xml would write each newline as &#xA; in character data).
type junitText struct {
	Text string `xml:",cdata"`
}

func output(s string) *junitText {
	if s == "" {
		return nil
	}
	return &junitText{Text: xmlChars(s)}
}

// xmlChars replaces what XML 1.0 cannot hold (§2.2: most C0 controls,
// surrogates, U+FFFE/U+FFFF) with U+FFFD. encoding/xml does so for
// attributes and character data, not for CDATA.
func xmlChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return '\uFFFD'
		}
		return r
	}, s)
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// junitTimestamp is the testsuite timestamp: ISO 8601 without a zone, in
// UTC, as the schema's pattern has it.
const junitTimestamp = "2006-01-02T15:04:05"

func writeJUnit(w io.Writer, t *chain.Trace) error {
	all := findings(t)
	name := "trace chain"
	if t.Chain != "" {
		name += " " + t.Chain
	}
	suite := junitSuite{Name: name, Time: seconds(t.ElapsedMS)}
	if !t.Started.IsZero() {
		suite.Timestamp = t.Started.UTC().Format(junitTimestamp)
	}
	suite.Properties = []junitProperty{{"mode", t.Mode}, {"start", t.Start}}
	if t.Final != "" {
		suite.Properties = append(suite.Properties, junitProperty{"final", t.Final}, junitProperty{"final_status", fmt.Sprint(t.FinalStatus)})
	}

	walk := junitCase{Classname: "walk", Name: "walk", Time: seconds(t.ElapsedMS)}
	if t.Unreachable != "" {
		walk.Error = &junitProblem{Message: t.Unreachable + " is unreachable", Type: "unreachable",
			Text: xmlChars("nothing answered at " + t.Unreachable + ", so the walk stopped there")}
	} else if fs := errorFindings(stepFindings(all, 0)); len(fs) > 0 {
		walk.Failure = findingsProblem(fs)
	}
	walk.SystemOut = output(findingsText(stepFindings(all, 0)))
	suite.Cases = append(suite.Cases, walk)

	for _, s := range t.Steps {
		c := junitCase{Classname: "hop", Name: hopName(s), Time: seconds(s.ElapsedMS), SystemOut: output(hopDetail(s, stepFindings(all, s.N)))}
		switch fs := errorFindings(stepFindings(all, s.N)); {
		case s.Error != "" && s.Status == 0:
			c.Error = &junitProblem{Message: "no answer: " + s.Error, Type: "transport", Text: xmlChars(s.Method + " " + s.URL)}
		case s.Error != "":
			c.Error = &junitProblem{Message: s.Error, Type: "navigation", Text: xmlChars(s.Method + " " + s.URL)}
		case len(fs) > 0:
			c.Failure = findingsProblem(fs)
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, e := range t.Expectations {
		c := junitCase{Classname: "expectation", Name: e.Name, Time: "0.000"}
		if !e.OK {
			c.Failure = &junitProblem{Message: fmt.Sprintf("want %s, got %s", e.Want, e.Got), Type: "expectation"}
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, pr := range t.Probes {
		c := junitCase{Classname: "probe", Name: pr.Name + " " + pr.Target, Time: "0.000"}
		switch {
		case pr.Skipped != "":
			c.Skipped = &junitSkipped{Message: pr.Skipped}
		case pr.Accepted() && !pr.Fails():
			// A warning (logout_csrf): told, not failed.
			c.SystemOut = output(fmt.Sprintf("%s accepted the %s probe (%d): warning %s\n%s\n", pr.Target, pr.Name, pr.Status, pr.Finding, pr.Detail))
		case !pr.Refused:
			msg := fmt.Sprintf("%s accepted the %s probe (%d)", pr.Target, pr.Name, pr.Status)
			if pr.Name == chain.ProbeSessionInstances {
				msg = fmt.Sprintf("%s's instances disagreed in the %s probe (%d)", pr.Target, pr.Name, pr.Status)
			}
			c.Failure = &junitProblem{Message: msg, Type: pr.Finding}
			if c.Failure.Type == "" {
				c.Failure.Type = "probe"
			}
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, c := range suite.Cases {
		suite.Tests++
		switch {
		case c.Error != nil:
			suite.Errors++
		case c.Failure != nil:
			suite.Failures++
		case c.Skipped != nil:
			suite.Skipped++
		}
	}
	doc := junitSuites{Name: "ssoctl", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing JUnit XML: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func errorFindings(fs []chain.Finding) []chain.Finding {
	var out []chain.Finding
	for _, f := range fs {
		if f.Severity == chain.SeverityError {
			out = append(out, f)
		}
	}
	return out
}

// findingsProblem is one <failure> for a test case's error findings: the
// first in the message, all of them with detail and fix in the text.
func findingsProblem(fs []chain.Finding) *junitProblem {
	msg := fs[0].Code + " " + fs[0].Title
	if len(fs) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(fs)-1)
	}
	return &junitProblem{Message: msg, Type: fs[0].Code, Text: xmlChars(findingsText(fs))}
}

func findingsText(fs []chain.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s %s: %s\n", f.Code, f.Severity, f.Title)
		if f.Detail != "" {
			fmt.Fprintf(&b, "  %s\n", f.Detail)
		}
		if f.Fix != "" {
			fmt.Fprintf(&b, "  fix: %s\n", f.Fix)
		}
	}
	return b.String()
}

// hopDetail is a hop's record for the CI log: the redacted URL, where it
// redirected, cookies set, the token, and warnings.
func hopDetail(s chain.Step, fs []chain.Finding) string {
	var b strings.Builder
	if s.Error != "" || s.Status == 0 {
		fmt.Fprintf(&b, "%s %s -> no answer", s.Method, s.URL)
	} else {
		fmt.Fprintf(&b, "%s %s -> %d", s.Method, s.URL, s.Status)
	}
	if s.Location != "" {
		fmt.Fprintf(&b, " %s", s.Location)
	}
	b.WriteString("\n")
	for _, c := range s.SetCookies {
		fmt.Fprintf(&b, "set-cookie %s\n", cookieLabel(c))
	}
	for _, c := range s.Withheld {
		fmt.Fprintf(&b, "cookie %s\n", withheldLabel(c))
	}
	for _, c := range s.Cleared {
		fmt.Fprintf(&b, "cookie %s\n", clearedLabel(c))
	}
	if s.OIDC != nil {
		fmt.Fprintf(&b, "oidc %s %s\n", s.OIDC.Kind, oidcLabel(s.OIDC))
	}
	if s.Token != nil {
		fmt.Fprintf(&b, "token %s\n", tokenLabel(s.Token))
	}
	if s.Navigation != "" {
		fmt.Fprintf(&b, "reached by %s\n", s.Navigation)
	}
	if s.ScriptNavigation != "" {
		fmt.Fprintf(&b, "stopped: %s\n", scriptStopNote(s))
	}
	var warnings []chain.Finding
	for _, f := range fs {
		if f.Severity != chain.SeverityError {
			warnings = append(warnings, f)
		}
	}
	b.WriteString(findingsText(warnings))
	return b.String()
}
