package chain

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no chain file makes Parse panic, and that a chain
// that loads can be planned.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if _, err := Plan(c, ""); err != nil {
			t.Fatalf("a chain that loads cannot be planned: %v", err)
		}
	})
}

// FuzzAllow checks that Allow never panics, and that what it allows is
// stable: the returned URL is allowed again unchanged, and net/url reads
// the same host from it.
func FuzzAllow(f *testing.F) {
	for _, tt := range allowTests {
		f.Add(tt.pattern, tt.input)
	}
	f.Fuzz(func(t *testing.T, pattern, input string) {
		a, err := NewAllowlist([]string{pattern})
		if err != nil {
			return
		}
		u, err := a.Allow(input)
		if err != nil {
			return
		}
		if u.User != nil || u.Opaque != "" || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("Allow(%q) = %q: userinfo, opaque or bad scheme", input, u)
		}
		again, err := a.Allow(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("Allow(%q) = %q, but Allow of that = %v, %v", input, u, again, err)
		}
		parsed, err := url.Parse(u.String())
		if err != nil || parsed.Host != u.Host {
			t.Fatalf("net/url reads %q as host %q, Allow said %q", u, parsed.Host, u.Host)
		}
	})
}
