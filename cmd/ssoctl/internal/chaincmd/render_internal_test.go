package chaincmd

import (
	"testing"
)

func TestMermaidText(t *testing.T) {
	got := mermaidText.Replace("GET /a;b#c<br/>d\ne")
	if want := "GET /a#59;b#35;c#60;br/#62;d e"; got != want {
		t.Errorf("mermaidText = %q, want %q", got, want)
	}
}

func TestDotQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{`portal`, `"portal"`},
		{`a"b`, `"a\"b"`},
		{`ends in \`, `"ends in \\"`},
		{`\N and \l`, `"\\N and \\l"`},
		{"two\nlines", `"two\nlines"`},
	}
	for _, tt := range tests {
		if got := dotQuote(tt.in); got != tt.want {
			t.Errorf("dotQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := dotLabel(`a"`, `b\`); got != `"a\"\nb\\"` {
		t.Errorf("dotLabel = %s", got)
	}
}
