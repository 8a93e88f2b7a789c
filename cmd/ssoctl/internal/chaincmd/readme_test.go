package chaincmd_test

import (
	"os"
	"strings"
	"testing"
)

// TestExampleREADME runs every "$ ssoctl ..." block of examples/local's
// README from the repository root, as a reader would, and requires the
// output shown there; a mermaid block must be what chain graph draws. So
// the README cannot drift from the chain or the commands.
func TestExampleREADME(t *testing.T) {
	t.Chdir("../../../..")
	raw, err := os.ReadFile("examples/local/README.md")
	if err != nil {
		t.Fatal(err)
	}
	var commands, mermaids int
	for _, block := range fencedBlocks(string(raw)) {
		switch block.lang {
		case "console":
			cmdLine, want, _ := strings.Cut(block.body, "\n")
			args, ok := strings.CutPrefix(cmdLine, "$ ssoctl ")
			if !ok {
				t.Errorf("console block does not start with $ ssoctl: %q", cmdLine)
				continue
			}
			commands++
			r := newCLI(t).run(strings.Fields(args)...)
			if r.Code != 0 || r.Stderr != "" {
				t.Errorf("%s: exit %d, stderr %q", cmdLine, r.Code, r.Stderr)
			}
			if r.Stdout != want {
				t.Errorf("%s: the README shows\n%s\nbut it prints\n%s", cmdLine, want, r.Stdout)
			}
		case "mermaid":
			mermaids++
			r := newCLI(t).run("chain", "graph", "-f", "examples/local/chain.yaml")
			if r.Stdout != block.body {
				t.Errorf("the mermaid block differs from chain graph's output:\n%s", r.Stdout)
			}
		}
	}
	if commands < 3 || mermaids != 1 {
		t.Errorf("found %d commands and %d mermaid blocks; want lint, graph text, graph mermaid and one diagram", commands, mermaids)
	}
}

type fenced struct {
	lang string
	body string // with its final newline
}

// fencedBlocks returns the ``` blocks of a Markdown text.
func fencedBlocks(md string) []fenced {
	var out []fenced
	var cur *fenced
	for _, line := range strings.SplitAfter(md, "\n") {
		trimmed := strings.TrimRight(line, "\n")
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &fenced{lang: strings.TrimPrefix(trimmed, "```")}
		case cur != nil && trimmed == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body += line
		}
	}
	return out
}
