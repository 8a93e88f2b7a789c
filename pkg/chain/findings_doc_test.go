package chain

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFindingsDocumented: docs/findings.md documents every code of the
// catalog with the catalog's own title, severity and fix, names no code
// the catalog lacks, and links only example files that exist. So the page
// a finding's reader lands on cannot drift from what trace prints.
func TestFindingsDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	known := map[string]bool{}
	for _, k := range FindingKinds() {
		known[k.Code] = true
		t.Run(k.Code, func(t *testing.T) {
			section := findingSection(doc, k.Code)
			if section == "" {
				t.Fatalf("docs/findings.md has no section \"### %s: %s\"", k.Code, k.Title)
			}
			for _, want := range []string{
				"### " + k.Code + ": " + k.Title + "\n",
				"Severity: **" + k.Severity.String() + "**",
				"**Fix.** " + k.Fix + "\n",
				"**What it means.**",
				"**How trace detects it.**",
				"**Example.**",
			} {
				if !strings.Contains(section, want) {
					t.Errorf("the %s section lacks %q (the catalog in findings.go is the source; update the page to match)", k.Code, want)
				}
			}
			if anchor := `<a id="` + strings.ToLower(k.Code) + `"></a>` + "\n### " + k.Code + ":"; !strings.Contains(doc, anchor) {
				t.Errorf("no anchor #%s right above the %s heading, which the summary table links", strings.ToLower(k.Code), k.Code)
			}
			if !strings.Contains(doc, "| ["+k.Code+"](#"+strings.ToLower(k.Code)+") | "+k.Severity.String()+" |") {
				t.Errorf("the summary table has no row for %s with severity %s", k.Code, k.Severity)
			}
		})
	}
	for _, code := range regexp.MustCompile(`SSO\d{3}`).FindAllString(doc, -1) {
		if !known[code] {
			t.Errorf("docs/findings.md names %s, which the catalog does not have", code)
		}
	}
	for _, m := range regexp.MustCompile(`\]\(\.\./(examples/[^)#]+)`).FindAllStringSubmatch(doc, -1) {
		if _, err := os.Stat(filepath.Join("../..", m[1])); err != nil {
			t.Errorf("docs/findings.md links %s: %v", m[1], err)
		}
	}
}

// findingSection returns the text from code's "### CODE:" heading to the
// next heading of that level or above.
func findingSection(doc, code string) string {
	i := strings.Index(doc, "### "+code+":")
	if i < 0 {
		return ""
	}
	rest := doc[i+1:]
	end := len(rest)
	for _, h := range []string{"\n### ", "\n## "} {
		if j := strings.Index(rest, h); j >= 0 && j < end {
			end = j
		}
	}
	return doc[i : i+1+end]
}
