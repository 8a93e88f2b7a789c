package chain

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A page may move the browser on with an inline script rather than a
// redirect: location.replace("…"), location.href = "…" (Google's SetSID
// pages do it, and so do many hand-built chains). The walk runs no
// JavaScript. It reads the page's inline scripts for a navigation whose
// URL is written out as a string literal, in code that runs as the page
// loads, and follows that URL as the browser would. A navigation it
// finds but cannot follow (a URL the script computes) is recorded, so a
// walk that stops there says why.

// scriptNav is a navigation found in a page's scripts.
type scriptNav struct {
	// how is the statement, with the URL left out: "location.replace(…)",
	// "window.location.href = …".
	how string
	// target is the URL as the script writes it, its escapes decoded; ""
	// when the script computes it (a variable, a concatenation, a template
	// with substitutions).
	target string
}

// jsToken is one token of a script: an identifier or keyword, a string
// literal (str holds its value, computed a template with substitutions),
// or punctuation.
type jsToken struct {
	kind     byte // 'i' identifier or keyword, 's' string, 'p' punctuation, 'n' number or regular expression
	text     string
	str      string
	computed bool
}

// jsTokens splits a script into tokens, dropping comments and white
// space. It knows enough JavaScript to keep quotes inside comments,
// strings and regular expressions from being read as code; an unfinished
// string or comment ends the script.
func jsTokens(src string) []jsToken {
	toks := make([]jsToken, 0, len(src)/4+1) // a token per four bytes, about
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(src[i:], "//") || strings.HasPrefix(src[i:], "<!--") || strings.HasPrefix(src[i:], "-->") && lineStart(src, i):
			// HTML-like comments are line comments in classic scripts.
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				return toks
			}
			i += end
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return toks
			}
			i += end + 4
		case c == '"' || c == '\'' || c == '`':
			val, computed, n, ok := jsString(src[i:])
			if !ok {
				return toks
			}
			toks = append(toks, jsToken{kind: 's', text: src[i : i+n], str: val, computed: computed})
			i += n
		case c == '/' && regexAllowed(toks):
			n := regexLen(src[i:])
			if n < 0 {
				return toks
			}
			toks = append(toks, jsToken{kind: 'n', text: src[i : i+n]})
			i += n
		case c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i + 1
			for j < len(src) && (src[j] == '_' || src[j] == '$' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9' || src[j] >= 0x80) {
				j++
			}
			toks = append(toks, jsToken{kind: 'i', text: src[i:j]})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(src) && (src[j] == '.' || src[j] == '_' || src[j] >= '0' && src[j] <= '9' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z') {
				j++
			}
			toks = append(toks, jsToken{kind: 'n', text: src[i:j]})
			i = j
		default:
			n := 1
			for _, op := range []string{"===", "!==", "=>", "==", "!=", "<=", ">=", "+=", "-=", "&&", "||", "??", "?."} {
				if strings.HasPrefix(src[i:], op) {
					n = len(op)
					break
				}
			}
			toks = append(toks, jsToken{kind: 'p', text: src[i : i+n]})
			i += n
		}
	}
	return toks
}

// lineStart reports whether only white space precedes i on its line.
func lineStart(src string, i int) bool {
	line := src[:i]
	if nl := strings.LastIndexByte(line, '\n'); nl >= 0 {
		line = line[nl+1:]
	}
	return strings.TrimSpace(line) == ""
}

// regexAllowed reports whether a '/' after toks starts a regular
// expression rather than a division: where an expression may begin.
func regexAllowed(toks []jsToken) bool {
	if len(toks) == 0 {
		return true
	}
	t := toks[len(toks)-1]
	switch t.kind {
	case 'p':
		return t.text != ")" && t.text != "]" && t.text != "}"
	case 'i':
		switch t.text {
		case "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else", "yield", "await":
			return true
		}
	}
	return false
}

// regexLen is the length of the regular expression literal src starts
// with, flags included, or -1 when it does not end on its line.
func regexLen(src string) int {
	inClass := false
	for i := 1; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '[':
			inClass = true
		case ']':
			inClass = false
		case '\n', '\r':
			return -1
		case '/':
			if !inClass {
				j := i + 1
				for j < len(src) && (src[j] >= 'a' && src[j] <= 'z') {
					j++
				}
				return j
			}
		}
	}
	return -1
}

// jsString reads the string or template literal src starts with: its
// value with escapes decoded, whether it has substitutions (${…}, a value
// only the running script knows), and its length in src. ok is false for
// a literal that does not end.
func jsString(src string) (val string, computed bool, n int, ok bool) {
	quote := src[0]
	var b strings.Builder
	var pending rune = -1 // a high surrogate waiting for its low half
	flush := func() {
		if pending >= 0 {
			b.WriteRune(utf8.RuneError)
			pending = -1
		}
	}
	put := func(r rune) {
		if pending >= 0 && r >= 0xdc00 && r < 0xe000 {
			b.WriteRune(utf16.DecodeRune(pending, r))
			pending = -1
			return
		}
		flush()
		if r >= 0xd800 && r < 0xdc00 {
			pending = r
			return
		}
		b.WriteRune(r)
	}
	for i := 1; i < len(src); {
		c := src[i]
		switch {
		case c == quote:
			flush()
			return b.String(), computed, i + 1, true
		case c == '\n' && quote != '`':
			return "", false, 0, false
		case c == '$' && quote == '`' && i+1 < len(src) && src[i+1] == '{':
			computed = true
			end := strings.IndexByte(src[i:], '}')
			if end < 0 {
				return "", false, 0, false
			}
			i += end + 1
		case c == '\\' && i+1 < len(src):
			r, k := jsEscape(src[i+1:])
			if r >= 0 {
				put(r)
			}
			i += 1 + k
		default:
			r, k := utf8.DecodeRuneInString(src[i:])
			put(r)
			i += k
		}
	}
	return "", false, 0, false
}

// jsEscape decodes the escape sequence after a backslash: its rune (-1
// for a line continuation, which stands for nothing) and its length.
func jsEscape(s string) (rune, int) {
	hex := func(h string) (rune, bool) {
		v, err := strconv.ParseUint(h, 16, 32)
		return rune(v), err == nil && v <= utf8.MaxRune
	}
	switch s[0] {
	case 'n':
		return '\n', 1
	case 'r':
		return '\r', 1
	case 't':
		return '\t', 1
	case 'b':
		return '\b', 1
	case 'f':
		return '\f', 1
	case 'v':
		return '\v', 1
	case '0':
		return 0, 1
	case '\n':
		return -1, 1
	case '\r':
		if len(s) > 1 && s[1] == '\n' {
			return -1, 2
		}
		return -1, 1
	case 'x':
		if len(s) >= 3 {
			if r, ok := hex(s[1:3]); ok {
				return r, 3
			}
		}
	case 'u':
		if len(s) >= 3 && s[1] == '{' {
			if end := strings.IndexByte(s, '}'); end > 2 {
				if r, ok := hex(s[2:end]); ok {
					return r, end + 1
				}
			}
		} else if len(s) >= 5 {
			if r, ok := hex(s[1:5]); ok {
				return r, 5
			}
		}
	}
	r, k := utf8.DecodeRuneInString(s)
	return r, k
}

// windowNames are the names a page's own window goes by; location on any
// of them is the page's location (top and parent too: the walk's pages
// are top-level documents).
var windowNames = map[string]bool{"window": true, "self": true, "top": true, "parent": true, "globalThis": true, "document": true}

// loadSinks are the calls whose function argument runs as the page loads
// (or right after): timers, load listeners, jQuery's ready.
var loadSinks = map[string]bool{"setTimeout": true, "setInterval": true, "requestAnimationFrame": true, "queueMicrotask": true, "$": true, "jQuery": true, "ready": true}

// loadEvents are the events whose listeners run as the page loads.
var loadEvents = map[string]bool{"load": true, "DOMContentLoaded": true, "pageshow": true, "readystatechange": true}

// maxScriptScan is how much of one script findScriptNav reads: a page
// that moves the browser on is small, and a larger script (an app's
// inlined bundle) is not read further, so a hostile page cannot make the
// walk work hard.
const maxScriptScan = 64 << 10

// maxCallDepth bounds how many functions deep blockRuns follows calls by
// name from the code that runs as the page loads.
const maxCallDepth = 8

// jsScript is a script's tokens with its brackets paired.
type jsScript struct {
	toks []jsToken
	// open is, for a closing bracket, the index of the bracket it
	// closes (-1 when none); encl is, for every token, the innermost
	// bracket open around it (-1 at the top level).
	open, encl []int
}

func newJSScript(src string) *jsScript {
	if len(src) > maxScriptScan {
		src = src[:maxScriptScan]
	}
	s := &jsScript{toks: jsTokens(src)}
	s.open, s.encl = make([]int, len(s.toks)), make([]int, len(s.toks))
	var stack []int
	for i, t := range s.toks {
		s.open[i] = -1
		if t.kind == 'p' && (t.text == ")" || t.text == "]" || t.text == "}") && len(stack) > 0 {
			s.open[i] = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
		s.encl[i] = -1
		if len(stack) > 0 {
			s.encl[i] = stack[len(stack)-1]
		}
		if t.kind == 'p' && (t.text == "(" || t.text == "[" || t.text == "{") {
			stack = append(stack, i)
		}
	}
	return s
}

// text is the text of token i, "" past either end.
func (s *jsScript) text(i int) string {
	if i < 0 || i >= len(s.toks) {
		return ""
	}
	return s.toks[i].text
}

// findScriptNav returns the first navigation in src that runs as the page
// loads, or nil. Code in a function runs when the function does: at once
// for one called on the spot ((function(){…})(), a timer, a load
// listener, onload =) or one declared by name and called by code that
// runs; not for a click handler or any other function nothing here calls.
// A frame-busting line (top.location = self.location) is not a
// navigation for a top-level page and is passed over.
func findScriptNav(src string) *scriptNav {
	s := newJSScript(src)
	toks := s.toks
	runs := s.blockRuns()
	for i, t := range toks {
		if t.kind != 'i' || t.text != "location" || !runs[i] {
			continue
		}
		if p := s.text(i - 1); p == "var" || p == "let" || p == "const" {
			continue // a variable of that name
		}
		start := i // the first token of the reference: window.location …
		for s.text(start-1) == "." && start >= 2 && toks[start-2].kind == 'i' && windowNames[toks[start-2].text] {
			start -= 2
		}
		if p := s.text(start - 1); p == "." || p == "?." {
			continue // some object's own location property
		}
		ref := joinTokens(toks[start : i+1])
		j := i + 1
		var how string
		switch {
		case s.text(j) == "." && (s.text(j+1) == "replace" || s.text(j+1) == "assign") && s.text(j+2) == "(":
			how, j = ref+"."+toks[j+1].text+"(…)", j+3
		case s.text(j) == "." && s.text(j+1) == "href" && s.text(j+2) == "=":
			how, j = ref+".href = …", j+3
		case s.text(j) == "=":
			how, j = ref+" = …", j+1
		default:
			continue
		}
		if j >= len(toks) {
			continue
		}
		nav := &scriptNav{how: how}
		if t := toks[j]; t.kind == 's' && !t.computed && !continuesExpression(s.text(j+1)) {
			nav.target = t.str
		} else if ref != "location" && ref != "window.location" && ref != "self.location" && ref != "document.location" {
			// top.location = self.location and the like: frame busting.
			continue
		}
		return nav
	}
	return nil
}

// submitsOnLoad reports whether src calls a form's submit() or
// requestSubmit() in code that runs as the page loads, as findScriptNav
// decides what runs: a click handler's call submits nothing until a person
// clicks.
func submitsOnLoad(src string) bool {
	s := newJSScript(src)
	runs := s.blockRuns()
	for i, t := range s.toks {
		if t.kind == 'i' && (t.text == "submit" || t.text == "requestSubmit") && runs[i] && s.text(i-1) == "." && s.text(i+1) == "(" {
			return true
		}
	}
	return false
}

// continuesExpression reports whether a token after a string literal
// makes it part of a larger expression, so the literal alone is not the
// value.
func continuesExpression(p string) bool {
	switch p {
	case "+", ".", "[", "?", "||", "&&", "??", "?.", "(", "`":
		return true
	}
	return false
}

func joinTokens(toks []jsToken) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(t.text)
	}
	return b.String()
}

// blockRuns marks each token with whether the code it is in runs as the
// page loads, block by block: the script's top level does, a block of an
// if, else, loop, try or a plain block runs when its parent does, and a
// function's body as findScriptNav says. A function declared by name runs
// when code that runs calls it, which may make another function run: so
// the marking repeats while new names are called, up to maxCallDepth.
func (s *jsScript) blockRuns() []bool {
	called := map[string]bool{}
	for depth := 0; ; depth++ {
		runs := s.markRuns(called)
		grew := false
		for j, t := range s.toks {
			if runs[j] && t.kind == 'i' && !called[t.text] && s.text(j+1) == "(" &&
				s.text(j-1) != "function" && s.text(j-1) != "." {
				called[t.text], grew = true, true
			}
		}
		if !grew || depth == maxCallDepth {
			return runs
		}
	}
}

// markRuns is one marking of blockRuns, given the names running code
// calls.
func (s *jsScript) markRuns(called map[string]bool) []bool {
	runs := make([]bool, len(s.toks))
	stack := []bool{true}
	for i, t := range s.toks {
		runs[i] = stack[len(stack)-1]
		if t.kind != 'p' {
			continue
		}
		switch t.text {
		case "{":
			stack = append(stack, stack[len(stack)-1] && s.blockStarts(i, called))
		case "}":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	// An arrow function without braces, () => location.replace(…): its
	// body runs as the function does, up to the end of its expression.
	for i, t := range s.toks {
		if t.text != "=>" || s.text(i+1) == "{" || s.calledOnLoad(s.arrowStart(i)) {
			continue
		}
		for k := i + 1; k < len(s.toks); k++ {
			if s.encl[k] == s.encl[i] && (s.toks[k].text == "," || s.toks[k].text == ";") ||
				s.encl[i] >= 0 && s.open[k] == s.encl[i] {
				break
			}
			runs[k] = false
		}
	}
	return runs
}

// arrowStart is where the arrow function whose => is token i starts: its
// parameters, and an async before them.
func (s *jsScript) arrowStart(i int) int {
	start := i - 1
	if s.text(start) == ")" {
		start = s.open[start]
	}
	if start > 0 && s.text(start-1) == "async" {
		start--
	}
	return start
}

// blockStarts reports whether the block opened at token i runs when the
// code around it does.
func (s *jsScript) blockStarts(i int, called map[string]bool) bool {
	switch s.text(i - 1) {
	case "":
		return i == 0
	case "=>":
		start := s.arrowStart(i - 1)
		return start >= 0 && s.calledOnLoad(start)
	case ")":
		open := s.open[i-1]
		if open <= 0 {
			return false
		}
		before := s.toks[open-1]
		switch {
		case before.text == "function":
			return s.calledOnLoad(s.funcStart(open - 1))
		case before.kind == 'i' && s.text(open-2) == "function":
			fn := s.funcStart(open - 2)
			if p := s.text(fn - 1); fn == 0 || p == ";" || p == "{" || p == "}" {
				return called[before.text] // a declaration
			}
			return s.calledOnLoad(fn)
		case before.text == "if" || before.text == "for" || before.text == "while" || before.text == "switch" || before.text == "with":
			return true
		}
		return false // a method, a catch block
	case "else", "try", "finally", "do", ";", "{", "}":
		return true // and a plain block
	}
	return false // an object literal, a class body
}

// funcStart is where the function whose keyword is token i starts,
// counting an async before it.
func (s *jsScript) funcStart(i int) int {
	if s.text(i-1) == "async" {
		return i - 1
	}
	return i
}

// calledOnLoad reports whether the function expression starting at token
// start runs as the page loads: called on the spot, handed to a timer, a
// load listener or jQuery's ready, or set as onload.
func (s *jsScript) calledOnLoad(start int) bool {
	if start < 0 {
		return false
	}
	switch s.text(start - 1) {
	case "(":
		// A call's first argument (setTimeout(function(){…})), or a
		// grouping around the function: (function(){…})().
		callee := s.toks[max(start-2, 0)]
		switch {
		case start < 2:
			return true
		case callee.kind == 'i' && loadSinks[callee.text]:
			return true
		case callee.kind == 'i' || callee.text == ")" || callee.text == "]":
			return false // some other call
		}
		return true
	case "!", "void", "+", "-", "~":
		return true // !function(){…}()
	case "=":
		return strings.EqualFold(s.text(start-2), "onload")
	case ",":
		// addEventListener("load", function(){…})
		open := s.encl[start-1]
		return open >= 1 && s.toks[open].text == "(" && s.toks[open-1].text == "addEventListener" &&
			open+1 < len(s.toks) && s.toks[open+1].kind == 's' && loadEvents[s.toks[open+1].str]
	}
	return false
}
