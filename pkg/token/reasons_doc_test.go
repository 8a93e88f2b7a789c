package token

import (
	"os"
	"strings"
	"testing"
)

// TestReasonCodesDocumented keeps docs/token-profile.md in step with the
// code: every reason Verify or Inspect can report has a row there.
func TestReasonCodesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/token-profile.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Reasons() {
		if !strings.Contains(string(doc), "`"+r.Code+"`") {
			t.Errorf("reason %q is not documented in docs/token-profile.md", r.Code)
		}
	}
}
