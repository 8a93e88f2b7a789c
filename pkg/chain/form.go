package chain

import (
	"bytes"
	"maps"
	"math"
	"mime/multipart"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// page is what the walk reads from an HTML answer: the forms a browser
// could submit, whether a script submits one by itself, a meta refresh,
// and the referrer policy set by a meta element.
type page struct {
	forms      []htmlForm
	autoSubmit bool   // code that runs as the page loads calls a form's submit() or requestSubmit()
	base       string // <base href>, "" when none
	// refresh and refreshDelay are the page's first valid <meta
	// http-equiv=refresh>: its URL ("" reloads the page) and delay.
	refresh      string
	refreshDelay int
	hasRefresh   bool
	referrer     string // <meta name=referrer> policy, normalized; "" when none
	// script is the first navigation the page's inline scripts make as it
	// loads (script.go), nil when none.
	script *scriptNav
}

// htmlForm is one <form>.
type htmlForm struct {
	method string // upper case; GET when the attribute is absent
	action string // as written; "" means the page itself
	// enctype is how a POST encodes the fields: "" (urlencoded, the
	// default and what browsers make of a value they do not know),
	// multipart/form-data or text/plain.
	enctype string
	fields  []formField
	// submit is the button a person presses: the form's first submit
	// button that is not disabled, named or not (its name and value go
	// with the form; Kratos and others read which one was pressed,
	// method=password). nil when there is none.
	submit *formField
}

type formField struct {
	name, value, typ string
	autocomplete     string
}

// maxRefreshDelay is the longest meta refresh the walk follows at once:
// longer ones are pages a person reads first.
const maxRefreshDelay = 1

func parsePage(body []byte) *page {
	p := &page{}
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return p
	}
	var formStack []*htmlForm
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		var current *htmlForm
		if len(formStack) > 0 {
			current = formStack[len(formStack)-1]
		}
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Form:
				f := &htmlForm{method: strings.ToUpper(strings.TrimSpace(attr(n, "method"))), action: strings.TrimSpace(attr(n, "action"))}
				if f.method != "POST" {
					f.method = "GET"
				}
				switch e := strings.ToLower(strings.TrimSpace(attr(n, "enctype"))); e {
				case "multipart/form-data", "text/plain":
					f.enctype = e
				}
				formStack = append(formStack, f)
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					visit(c)
				}
				formStack = formStack[:len(formStack)-1]
				p.forms = append(p.forms, *f)
				return
			case atom.Input:
				if current != nil {
					addInput(current, n)
				}
			case atom.Button:
				// A button is a submit button unless its type says button
				// or reset: a missing or unknown type is submit.
				if typ := strings.ToLower(attr(n, "type")); current != nil && typ != "button" && typ != "reset" &&
					current.submit == nil && !hasAttr(n, "disabled") {
					current.submit = &formField{name: attr(n, "name"), value: attr(n, "value"), typ: "submit"}
				}
			case atom.Textarea:
				if current != nil && attr(n, "name") != "" && !hasAttr(n, "disabled") {
					current.fields = append(current.fields, formField{name: attr(n, "name"), value: text(n), typ: "textarea"})
				}
			case atom.Select:
				if current != nil && attr(n, "name") != "" && !hasAttr(n, "disabled") {
					current.fields = append(current.fields, formField{name: attr(n, "name"), value: selected(n), typ: "select"})
				}
			case atom.Script:
				if !hasAttr(n, "src") && isJavaScript(attr(n, "type")) {
					src := text(n)
					p.autoSubmit = p.autoSubmit || submitsOnLoad(src)
					if p.script == nil {
						p.script = findScriptNav(src)
					}
				}
			case atom.Body:
				p.autoSubmit = p.autoSubmit || submitsOnLoad(attr(n, "onload"))
				if p.script == nil {
					p.script = findScriptNav(attr(n, "onload"))
				}
			case atom.Base:
				if p.base == "" {
					p.base = strings.TrimSpace(attr(n, "href"))
				}
			case atom.Meta:
				readMeta(p, n)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c)
		}
	}
	visit(doc)
	return p
}

// isJavaScript reports whether a script element's type attribute makes
// it a script the browser runs (HTML §4.12.1.1): none, a JavaScript MIME
// type, or a module; not a data block such as application/json.
func isJavaScript(typ string) bool {
	typ = strings.ToLower(strings.TrimSpace(typ))
	return typ == "" || typ == "module" || strings.Contains(typ, "javascript") || strings.Contains(typ, "ecmascript") ||
		typ == "text/jscript" || typ == "text/livescript"
}

func addInput(f *htmlForm, n *html.Node) {
	typ := strings.ToLower(strings.TrimSpace(attr(n, "type")))
	name := attr(n, "name")
	if hasAttr(n, "disabled") {
		return
	}
	if typ == "submit" || typ == "image" {
		if f.submit == nil {
			f.submit = &formField{name: name, value: attr(n, "value"), typ: typ}
		}
		return
	}
	if name == "" {
		return
	}
	switch typ {
	case "checkbox", "radio":
		if !hasAttr(n, "checked") {
			return
		}
		v := attr(n, "value")
		if !hasAttr(n, "value") {
			v = "on"
		}
		f.fields = append(f.fields, formField{name: name, value: v, typ: typ})
		return
	case "button", "reset", "file":
		return
	}
	f.fields = append(f.fields, formField{name: name, value: attr(n, "value"), typ: typ, autocomplete: strings.ToLower(attr(n, "autocomplete"))})
}

func readMeta(p *page, n *html.Node) {
	switch {
	case strings.EqualFold(attr(n, "name"), "referrer"):
		if pol := referrerPolicyToken(attr(n, "content"), true); pol != "" {
			p.referrer = pol
		}
	case strings.EqualFold(attr(n, "http-equiv"), "refresh") && !p.hasRefresh:
		// The first valid declaration is the page's refresh, and the
		// browser ignores every later one ("will declaratively refresh").
		if delay, target, ok := parseRefresh(attr(n, "content")); ok {
			p.refresh, p.refreshDelay, p.hasRefresh = target, delay, true
		}
	}
}

// parseRefresh reads a refresh declaration, a meta element's content or a
// Refresh header ("0; url=/next", "1,URL='/next'", "0;/next"), as the HTML
// Standard's shared declarative refresh steps do: its delay in whole
// seconds (a number too large for an int is math.MaxInt), its URL as
// written ("" when it has none: the page reloads itself), and whether it
// is valid at all. The caller decides what it follows.
func parseRefresh(s string) (delay int, target string, ok bool) {
	const space = " \t\n\f\r"
	s = strings.TrimLeft(s, space)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 && (len(s) == 0 || s[0] != '.') {
		return 0, "", false
	}
	if i > 0 {
		var err error
		if delay, err = strconv.Atoi(s[:i]); err != nil {
			delay = math.MaxInt // only digits: out of range
		}
	}
	s = strings.TrimLeft(s[i:], "0123456789.")
	if s != "" && !strings.ContainsRune(space+";,", rune(s[0])) {
		return 0, "", false
	}
	s = strings.TrimLeft(s, space)
	if s != "" && (s[0] == ';' || s[0] == ',') {
		s = strings.TrimLeft(s[1:], space)
	}
	if len(s) >= 3 && strings.EqualFold(s[:3], "url") {
		if rest := strings.TrimLeft(s[3:], space); strings.HasPrefix(rest, "=") {
			s = strings.TrimLeft(rest[1:], space)
		}
	}
	if s != "" && (s[0] == '\'' || s[0] == '"') {
		q := s[0]
		s = s[1:]
		if j := strings.IndexByte(s, q); j >= 0 {
			s = s[:j]
		}
	}
	return delay, strings.TrimRight(s, space), true
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return true
		}
	}
	return false
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

func selected(n *html.Node) string {
	first, found := "", false
	var walk func(*html.Node) (string, bool)
	walk = func(n *html.Node) (string, bool) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.DataAtom == atom.Option {
				v := attr(c, "value")
				if !hasAttr(c, "value") {
					v = strings.TrimSpace(text(c))
				}
				if !found {
					first, found = v, true
				}
				if hasAttr(c, "selected") {
					return v, true
				}
			}
			if v, ok := walk(c); ok {
				return v, true
			}
		}
		return "", false
	}
	if v, ok := walk(n); ok {
		return v
	}
	return first
}

// How a page sent the browser on by itself, as Step.Navigation records it.
const (
	NavRefresh = "refresh"
	NavScript  = "script"
)

// Form kinds, as Step.Form records them.
const (
	FormLogin = "login"
	FormPost  = "form_post"
	// maxLoginPosts is how many login forms a walk submits before it gives
	// up: an identifier-first login takes two.
	maxLoginPosts = 3
)

// identifierNames are the field names login forms use for the account.
var identifierNames = map[string]bool{
	"email": true, "identifier": true, "username": true, "user": true, "login": true,
	"userid": true, "user_id": true, "loginfmt": true, "j_username": true, "traits.email": true,
}

func (f formField) isPassword() bool { return f.typ == "password" }

// startsLogin reports whether f asks for an account the way only login
// forms do (identifier-first pages); a plain email field may just as well
// be a newsletter sign-up, which the walk must not submit.
func (f formField) startsLogin() bool {
	if f.autocomplete == "username" {
		return true
	}
	switch strings.ToLower(f.name) {
	case "identifier", "username", "loginfmt", "j_username":
		return f.typ == "" || f.typ == "text" || f.typ == "email"
	}
	return false
}

func (f formField) isIdentifier() bool {
	if f.typ == "email" || f.autocomplete == "username" || f.autocomplete == "email" {
		return true
	}
	return (f.typ == "" || f.typ == "text") && identifierNames[strings.ToLower(f.name)]
}

// holdsToken reports whether a field carries a JWT-shaped value (the
// form_post interstitial, OIDC response_mode=form_post).
func (f formField) holdsToken() bool { return tokenShaped(strings.TrimSpace(f.value)) }

// kind says what submitting f would be: a login (a password field, or an
// identifier-first step), a form_post (it carries a token, or the page
// submits it by itself), or "" for a form a browser would leave alone.
func (f *htmlForm) kind(autoSubmit bool) string {
	hasPassword, startsLogin, hasToken := false, false, false
	for _, fl := range f.fields {
		hasPassword = hasPassword || fl.isPassword()
		startsLogin = startsLogin || fl.startsLogin()
		hasToken = hasToken || fl.typ == "hidden" && fl.holdsToken()
	}
	switch {
	case hasPassword || startsLogin && f.method == "POST" && !autoSubmit:
		return FormLogin
	case hasToken && f.method == "POST", autoSubmit:
		return FormPost
	}
	return ""
}

// canFill reports whether the browser's credentials cover what a login
// form asks for: a password field needs the password, an identifier-first
// step the account.
func (f *htmlForm) canFill(user, password string) bool {
	for _, fl := range f.fields {
		if fl.isPassword() {
			return password != ""
		}
	}
	return user != ""
}

// values fills f the way a person (login) or the page's script (form_post)
// would: hidden and prefilled fields as they are, the account and the
// password from the browser's credentials, and the button pressed, unless
// a script submits the form (form.submit() presses none).
func (f *htmlForm) values(user, password string, byScript bool) url.Values {
	v := url.Values{}
	for _, fl := range f.fields {
		switch {
		case fl.isPassword():
			v.Add(fl.name, password)
		case fl.isIdentifier() && user != "":
			v.Add(fl.name, user)
		default:
			v.Add(fl.name, fl.value)
		}
	}
	switch b := f.submit; {
	case b == nil || byScript:
	case b.typ == "image":
		// Where it was clicked; the top left corner will do.
		x, y := "x", "y"
		if b.name != "" {
			x, y = b.name+".x", b.name+".y"
		}
		v.Add(x, "0")
		v.Add(y, "0")
	case b.name != "":
		v.Add(b.name, b.value)
	}
	return v
}

// encodeForm is the body of a POST of v and its Content-Type, by the
// form's enctype (HTML's form submission algorithm). Fields go in name
// order: url.Values keeps no other.
func encodeForm(v url.Values, enctype string) (body, contentType string) {
	switch enctype {
	case "multipart/form-data":
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		for _, k := range slices.Sorted(maps.Keys(v)) {
			for _, val := range v[k] {
				_ = w.WriteField(k, val) // a bytes.Buffer takes every write
			}
		}
		_ = w.Close()
		return b.String(), w.FormDataContentType()
	case "text/plain":
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(v)) {
			for _, val := range v[k] {
				b.WriteString(k + "=" + val + "\r\n")
			}
		}
		return b.String(), "text/plain"
	}
	return v.Encode(), "application/x-www-form-urlencoded"
}

// signature identifies a form across pages, to notice the same login form
// coming back (the credentials were refused).
func (f *htmlForm) signature() string {
	var b strings.Builder
	b.WriteString(f.method + " " + f.action)
	for _, fl := range f.fields {
		b.WriteString(" " + fl.name)
	}
	return b.String()
}
