package chain

import (
	"fmt"
	"strings"
	"testing"
)

func TestFindScriptNav(t *testing.T) {
	const computed = "(computed)"
	tests := []struct {
		name   string
		src    string
		target string // "" no navigation; computed: one the walk cannot follow
		how    string
	}{
		// What runs, written out.
		{name: "location.replace", src: `location.replace("https://b.example/land?x=1")`, target: "https://b.example/land?x=1", how: "location.replace(…)"},
		{name: "window.location.href =", src: `window.location.href = 'https://b.example/';`, target: "https://b.example/", how: "window.location.href = …"},
		{name: "document.location =", src: `document.location = "/next"`, target: "/next", how: "document.location = …"},
		{name: "window.document.location.assign", src: `window.document.location.assign("/next")`, target: "/next", how: "window.document.location.assign(…)"},
		{name: "top.location with a literal", src: `top.location.href = "/out"`, target: "/out", how: "top.location.href = …"},
		{name: "bare location =", src: "location = `/tpl`", target: "/tpl", how: "location = …"},
		{
			name:   "Google SetSID's hex escapes",
			src:    `(function(){var a=1;window.location.replace("https:\x2F\x2Fwww.youtube.com\x2Fsignin?action_handle_signin\x3dtrue\x26app\x3ddesktop");})();`,
			target: "https://www.youtube.com/signin?action_handle_signin=true&app=desktop", how: "window.location.replace(…)",
		},
		{name: "JSON-style escaped slashes", src: `location.href = "https:\/\/b.example\/land";`, target: "https://b.example/land", how: "location.href = …"},
		{name: "unicode escapes", src: `location.replace("\u002Fa\u{2F}b\u00e9")`, target: "/a/bé", how: "location.replace(…)"},
		{name: "a surrogate pair", src: `location.replace("/\uD83D\uDE00")`, target: "/😀", how: "location.replace(…)"},
		{name: "a line continuation", src: "location.replace(\"/a\\\nb\")", target: "/ab", how: "location.replace(…)"},
		{name: "inside if", src: `if (document.cookie.indexOf("x") < 0) { location.replace("/a") } else { location.replace("/b") }`, target: "/a", how: "location.replace(…)"},
		{name: "an IIFE", src: `(function () { location.replace("/iife") })();`, target: "/iife", how: "location.replace(…)"},
		{name: "an arrow IIFE", src: `(() => { location.replace("/arrow") })();`, target: "/arrow", how: "location.replace(…)"},
		{name: "!function", src: `!function(){ location.replace("/bang") }();`, target: "/bang", how: "location.replace(…)"},
		{name: "setTimeout", src: `setTimeout(function(){ window.location.href = "/later"; }, 0);`, target: "/later", how: "window.location.href = …"},
		{name: "a load listener, an arrow without braces", src: `addEventListener("load", async () => location.replace("/l"))`, target: "/l", how: "location.replace(…)"},
		{name: "setTimeout with an arrow", src: `setTimeout(() => location.replace("/x"), 10)`, target: "/x", how: "location.replace(…)"},
		{name: "window.onload", src: `window.onload = function() { location.replace("/loaded") }`, target: "/loaded", how: "location.replace(…)"},
		{name: "a DOMContentLoaded listener", src: `document.addEventListener("DOMContentLoaded", () => { location.replace("/dcl") })`, target: "/dcl", how: "location.replace(…)"},
		{name: "jQuery ready", src: `$(function(){ location.href = "/jq" })`, target: "/jq", how: "location.href = …"},
		{name: "a function declared and called", src: `function go(u) { location.replace("/go") } go();`, target: "/go", how: "location.replace(…)"},
		{name: "called through another function", src: `function a() { b() } function b() { location.replace("/b") } a();`, target: "/b", how: "location.replace(…)"},
		{name: "a comment first", src: "// location.replace(\"/old\")\n/* location = '/older' */ location.replace(\"/new\")", target: "/new", how: "location.replace(…)"},
		{name: "quotes in a regular expression", src: `var r = /"[^"]*'/g; location.replace("/after-regex")`, target: "/after-regex", how: "location.replace(…)"},
		{name: "HTML-like comments", src: "<!--\nlocation.replace(\"/x\")\n-->", target: "/x", how: "location.replace(…)"},

		// What the script computes.
		{name: "a variable", src: `var u = "/a"; location.replace(u)`, target: computed, how: "location.replace(…)"},
		{name: "a concatenation", src: `location.href = "/a?next=" + encodeURIComponent(x)`, target: computed, how: "location.href = …"},
		{name: "a template with a substitution", src: "location.href = `/a/${id}`", target: computed, how: "location.href = …"},
		{name: "a literal with a method called on it", src: `location.replace("/A".toLowerCase())`, target: computed, how: "location.replace(…)"},

		// What is not a navigation, or does not run as the page loads.
		{name: "no script", src: ``},
		{name: "reading location", src: `var here = location.href; if (location.href == "/x") {}`},
		{name: "a hash change", src: `location.hash = "#top"`},
		{name: "another object's location", src: `map.location = "/x"; obj.location.replace("/y")`},
		{name: "a variable named location", src: `var location = "/x"`},
		{name: "a string that mentions it", src: `var s = 'location.replace("/x")';`},
		{name: "in a comment only", src: `// window.location = "/x"`},
		{name: "a click handler", src: `document.getElementById("b").addEventListener("click", function(){ location.replace("/click") })`},
		{name: "a click handler, an arrow without braces", src: `btn.addEventListener("click", () => location.replace("/c")); x = 1`},
		{name: "an arrow nothing calls", src: `const go = u => location.assign(u + "/x"), y = 2;`},
		{name: "a function nothing calls", src: `function logout() { location.href = "/logout" }`},
		{name: "a function only a handler calls", src: `function go() { location.href = "/go" } btn.onclick = function(){ go() }`},
		{name: "a method", src: `var o = { go() { location.replace("/m") } }`},
		{name: "a catch block", src: `try { x() } catch (e) { location.replace("/err") }`},
		{name: "frame busting", src: `if (top !== self) { top.location = self.location; }`},
		{name: "frame busting by href", src: `if (window.top != window.self) window.top.location.href = window.location.href`},
		{name: "an unterminated string", src: `location.replace("/x`},
		{name: "nothing after =", src: `location.href =`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nav := findScriptNav(tt.src)
			switch {
			case tt.target == "" && nav != nil:
				t.Errorf("found %+v, want no navigation", *nav)
			case tt.target == "":
			case nav == nil:
				t.Errorf("found no navigation, want %q", tt.target)
			case tt.target == computed && nav.target != "":
				t.Errorf("target %q, want a computed one", nav.target)
			case tt.target != computed && nav.target != tt.target:
				t.Errorf("target %q, want %q", nav.target, tt.target)
			case nav.how != tt.how:
				t.Errorf("how %q, want %q", nav.how, tt.how)
			}
		})
	}
}

func TestParsePageScripts(t *testing.T) {
	tests := []struct {
		name, body, target string
	}{
		{name: "an inline script", body: `<script>location.replace("/a")</script>`, target: "/a"},
		{name: "a module", body: `<script type="module">location.replace("/m")</script>`, target: "/m"},
		{name: "text/javascript", body: `<script type="text/javascript">location.replace("/j")</script>`, target: "/j"},
		{name: "a data block is not run", body: `<script type="application/json">{"x": "location.replace(\"/d\")"}</script>`},
		{name: "an external script is not read", body: `<script src="/app.js">location.replace("/s")</script>`},
		{name: "the first navigation wins", body: `<script>var x = 1</script><script>location.replace("/first")</script><script>location.replace("/second")</script>`, target: "/first"},
		{name: "body onload", body: `<body onload="location.replace('/onload')"><p>hi</p></body>`, target: "/onload"},
		{name: "noscript is not run", body: `<noscript><script>location.replace("/n")</script></noscript>`},
		{name: "HTML escapes are not decoded in a script", body: `<script>location.replace("/a?x=1&amp;y=2")</script>`, target: "/a?x=1&amp;y=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parsePage([]byte("<!doctype html>" + tt.body))
			got := ""
			if p.script != nil {
				got = p.script.target
			}
			if got != tt.target {
				t.Errorf("script target %q, want %q", got, tt.target)
			}
		})
	}
}

// FuzzFindScriptNav: no script makes the reader panic or loop, and what
// it reports as a navigation is one it found in the text.
func FuzzFindScriptNav(f *testing.F) {
	for _, s := range []string{
		`location.replace("https:\x2F\x2Fb.example")`, "location.href = `a${b}`", `function a(){a()} a();`,
		`(()=>{location="/x"})()`, `/[/"]/.test(x); top.location=self.location`, `"\u{110000}"`, `"\uD800"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		nav := findScriptNav(src)
		if nav != nil && !strings.Contains(src, "location") {
			t.Errorf("a navigation %+v in a script without the word location", *nav)
		}
	})
}

// BenchmarkFindScriptNav measures reading a page's script for a
// navigation: a SetSID-sized page, and the most a hostile page can make
// the walk read (maxScriptScan of nested functions each calling the next,
// which repeats the marking up to maxCallDepth times).
func BenchmarkFindScriptNav(b *testing.B) {
	setsid := `(function(){var a=document.cookie;if(a.indexOf("SID")<0){}window.location.replace("https:\x2F\x2Fwww.youtube.com\x2Fsignin?action_handle_signin\x3dtrue");})();`
	var hostile strings.Builder
	for i := 0; hostile.Len() < maxScriptScan; i++ {
		fmt.Fprintf(&hostile, "function f%d(){ f%d(); if(x){ (function(){ location.href = u + '%d' })() } }\n", i, i+1, i)
	}
	hostile.WriteString("f0();")
	for _, bc := range []struct{ name, src string }{{"setsid", setsid}, {"hostile-64KiB", hostile.String()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(min(len(bc.src), maxScriptScan)))
			b.ReportAllocs()
			for b.Loop() {
				findScriptNav(bc.src)
			}
		})
	}
}
