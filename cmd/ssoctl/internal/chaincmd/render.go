package chaincmd

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// role is one box of a diagram: the browser, the IdP, the issuer, a
// receiver, or where the login lands when no role serves that origin.
type role struct {
	id     string // diagram id: letters, digits and '_', never a keyword
	name   string // "issuer", "portal"
	url    string // origin, or the IdP's public URL; "" for the browser
	detail string // "dev" for the IdP kind, "shared cookie"
	shared bool   // a shared-cookie receiver: no hop
}

// arrow is one hop, drawn from the role whose answer sends the browser on
// to the role it opens.
type arrow struct {
	hop      chain.Hop
	from, to *role
}

// diagram is a planned first login, laid out for drawing.
type diagram struct {
	c      *chain.Chain
	roles  []*role // in drawing order
	arrows []arrow
	final  string // the URL the login lands on
}

func newDiagram(c *chain.Chain, hops []chain.Hop) *diagram {
	d := &diagram{c: c}
	browser := &role{id: "Browser", name: "Browser"}
	idp := &role{id: "IdP", name: "IdP", url: c.IdP.PublicURL, detail: string(c.IdP.Kind)}
	issuer := &role{id: "issuer", name: "issuer", url: c.Issuer.URL}
	d.roles = []*role{browser, idp, issuer}
	byName := map[string]*role{}
	byOrigin := map[string]*role{c.Issuer.URL: issuer}
	used := map[string]bool{"Browser": true, "IdP": true, "issuer": true, "return_to": true}
	for i, r := range c.Receivers {
		id := "r_" + strings.ReplaceAll(r.Name, "-", "_")
		if used[id] || !isPlainID(id) {
			id = fmt.Sprintf("r%d", i+1)
		}
		used[id] = true
		rr := &role{id: id, name: r.Name, url: r.URL, shared: r.SharedCookie}
		if r.SharedCookie {
			rr.detail = "shared cookie"
		}
		d.roles = append(d.roles, rr)
		byName[r.Name] = rr
		if _, dup := byOrigin[r.URL]; !dup {
			byOrigin[r.URL] = rr
		}
	}
	cur := browser
	for _, h := range hops {
		var to *role
		switch h.Kind {
		case chain.HopLogin, chain.HopCallback, chain.HopContinue:
			to = issuer
		case chain.HopIdPLogin:
			to = idp
		case chain.HopHandoff:
			to = byName[h.Audience]
		case chain.HopFinal:
			d.final = h.To
			origin := originOf(h.To)
			to = byOrigin[origin]
			if to == nil {
				to = &role{id: "return_to", name: "return_to", url: origin}
				d.roles = append(d.roles, to)
			}
		}
		if to == nil {
			// A hop kind this version does not know: drawn to the role whose
			// origin it opens, else to the browser.
			if to = byOrigin[originOf(h.To)]; to == nil {
				to = browser
			}
		}
		d.arrows = append(d.arrows, arrow{hop: h, from: cur, to: to})
		cur = to
	}
	return d
}

func isPlainID(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// originOf returns scheme://host[:port] of an absolute URL.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// target is what a hop requests, without the origin the arrow already
// names: the path and query.
func target(h chain.Hop) string {
	u, err := url.Parse(h.To)
	if err != nil || u.Host == "" {
		return h.To
	}
	t := u.RequestURI()
	if u.Fragment != "" {
		t += "#" + u.EscapedFragment()
	}
	return t
}

// hopLabel is a hop in words: "handoff GET /sso, token aud=portal".
func hopLabel(h chain.Hop) string {
	return strings.Join(append([]string{string(h.Kind) + " " + hopRequest(h, true)}, hopToken(h)...), ", ")
}

// hopRequest is "GET /sso", with or without the query.
func hopRequest(h chain.Hop, withQuery bool) string {
	t := target(h)
	if !withQuery {
		t, _, _ = strings.Cut(t, "?")
	}
	s := h.Method + " " + t
	if h.Kind == chain.HopHandoff && h.Method == "POST" {
		s += " (form_post)"
	}
	return s
}

// hopToken names the token a handoff carries.
func hopToken(h chain.Hop) []string {
	if h.Kind != chain.HopHandoff {
		return nil
	}
	return []string{"token aud=" + h.Audience}
}

// sharedNote says how a shared-cookie receiver gets its session.
func (d *diagram) sharedNote() string {
	dom := d.c.Issuer.Cookie.Domain
	return fmt.Sprintf("shared cookie, no hop: validates the parent-domain cookie (%s) server to server via POST /sso/introspect", dom)
}

// title names the chain and what is drawn.
func (d *diagram) title() string {
	return fmt.Sprintf("chain %s, %s mode, %s, first login", d.c.Name, d.c.Mode, d.c.Token.Alg)
}

// mermaidText escapes text for a Mermaid label: '#' and ';' end a
// statement or start an entity, '<' and '>' would be read as HTML. Mermaid
// decodes the #NN; entity codes when it renders.
var mermaidText = strings.NewReplacer("#", "#35;", ";", "#59;", "<", "#60;", ">", "#62;", "\n", " ", "\r", " ")

// writeMermaid writes a Mermaid sequenceDiagram: the participants in chain
// order, one arrow per hop, autonumbered, and a note per shared-cookie
// receiver once the issuer has set its cookie.
func writeMermaid(w io.Writer, d *diagram) {
	fmt.Fprintln(w, "sequenceDiagram")
	fmt.Fprintf(w, "    title %s\n", mermaidText.Replace(d.title()))
	fmt.Fprintln(w, "    autonumber")
	for _, r := range d.roles {
		if r.id == "Browser" {
			fmt.Fprintln(w, "    actor Browser")
			continue
		}
		name := r.name
		if r.detail != "" {
			name += " (" + r.detail + ")"
		}
		fmt.Fprintf(w, "    participant %s as %s<br/>%s\n", r.id, mermaidText.Replace(name), mermaidText.Replace(r.url))
	}
	for _, a := range d.arrows {
		fmt.Fprintf(w, "    %s->>%s: %s\n", a.from.id, a.to.id, mermaidText.Replace(hopLabel(a.hop)))
		if a.hop.Kind == chain.HopCallback {
			for _, r := range d.roles {
				if r.shared {
					fmt.Fprintf(w, "    Note over %s: %s\n", r.id, mermaidText.Replace(d.sharedNote()))
				}
			}
		}
	}
}

// dotQuote quotes s as a DOT ID: in a quoted string only \" is an escape,
// but label strings also read \n, \l and the like, so a backslash is
// doubled too.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}

// dotLabel quotes lines as one DOT label, one line each.
func dotLabel(lines ...string) string {
	q := make([]string, len(lines))
	for i, l := range lines {
		q[i] = strings.TrimSuffix(strings.TrimPrefix(dotQuote(l), `"`), `"`)
	}
	return `"` + strings.Join(q, `\n`) + `"`
}

// writeDot writes a Graphviz digraph: one node per role, one edge per hop
// labelled with its place in the walk, and a dashed server-to-server edge
// from each shared-cookie receiver to the issuer.
func writeDot(w io.Writer, d *diagram) {
	fmt.Fprintf(w, "digraph %s {\n", dotQuote("chain "+d.c.Name))
	fmt.Fprintf(w, "  label=%s;\n", dotLabel(d.title(), "ends at "+d.final))
	fmt.Fprintln(w, `  labelloc=t;`)
	fmt.Fprintln(w, `  fontname="Helvetica";`)
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, `  node [shape=box, fontname="Helvetica"];`)
	fmt.Fprintln(w, `  edge [fontname="Helvetica", fontsize=10];`)
	for _, r := range d.roles {
		switch {
		case r.id == "Browser":
			fmt.Fprintf(w, "  %s [shape=oval];\n", dotQuote(r.id))
		case r.shared:
			fmt.Fprintf(w, "  %s [label=%s, style=dashed];\n", dotQuote(r.id), dotLabel(r.name+" (shared cookie)", r.url))
		default:
			name := r.name
			if r.detail != "" {
				name += " (" + r.detail + ")"
			}
			fmt.Fprintf(w, "  %s [label=%s];\n", dotQuote(r.id), dotLabel(name, r.url))
		}
	}
	for i, a := range d.arrows {
		lines := append([]string{fmt.Sprintf("%d. %s", i+1, a.hop.Kind), hopRequest(a.hop, false)}, hopToken(a.hop)...)
		fmt.Fprintf(w, "  %s -> %s [label=%s];\n", dotQuote(a.from.id), dotQuote(a.to.id), dotLabel(lines...))
	}
	for _, r := range d.roles {
		if r.shared {
			fmt.Fprintf(w, "  %s -> %s [label=%s, style=dashed];\n", dotQuote(r.id), dotQuote("issuer"),
				dotLabel("server to server", "POST /sso/introspect", "validates the cookie on "+d.c.Issuer.Cookie.Domain))
		}
	}
	fmt.Fprintln(w, "}")
}

// writeText writes the numbered hop list.
func writeText(w io.Writer, st *cmdutil.Styles, d *diagram) {
	fmt.Fprintf(w, "%s\n", st.Heading.Render(cmdutil.Printable(d.title())+", ending at "+cmdutil.Printable(d.final)))
	kindW, routeW := 0, 0
	routes := make([]string, len(d.arrows))
	for i, a := range d.arrows {
		routes[i] = a.from.name + " → " + a.to.name
		kindW = max(kindW, len(a.hop.Kind))
		routeW = max(routeW, utf8.RuneCountInString(routes[i]))
	}
	numW := len(fmt.Sprint(len(d.arrows)))
	for i, a := range d.arrows {
		h := a.hop
		line := fmt.Sprintf("%*d. %s  %s  %s %s",
			numW, i+1,
			st.Code.Render(pad(string(h.Kind), kindW)),
			pad(cmdutil.Printable(routes[i]), routeW),
			pad(h.Method, 4), cmdutil.Printable(h.To))
		if h.Kind == chain.HopHandoff {
			line += "  " + st.Label.Render("token aud="+cmdutil.Printable(h.Audience))
		}
		fmt.Fprintln(w, line)
	}
	for _, r := range d.roles {
		if r.shared {
			fmt.Fprintf(w, "%s %s: %s\n", cmdutil.Printable(r.name), cmdutil.Printable(r.url), st.Dim.Render(cmdutil.Printable(d.sharedNote())))
		}
	}
}

func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// graphView is `chain graph -o json`: the plan, one entry per hop.
type graphView struct {
	SchemaVersion int        `json:"schema_version"`
	File          string     `json:"file"`
	Chain         string     `json:"chain"`
	Mode          string     `json:"mode"`
	Alg           string     `json:"alg"`
	ReturnTo      string     `json:"return_to"`
	Hops          []hopView  `json:"hops"`
	SharedCookie  []roleView `json:"shared_cookie_receivers"`
}

type hopView struct {
	N        int    `json:"n"`
	Kind     string `json:"kind"`
	From     string `json:"from"` // role name
	To       string `json:"to"`   // role name
	Method   string `json:"method"`
	URL      string `json:"url"`
	Audience string `json:"audience,omitempty"`
}

type roleView struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

func writeJSON(w io.Writer, file string, d *diagram) error {
	v := graphView{
		SchemaVersion: cmdutil.SchemaVersion, File: file, Chain: d.c.Name, Mode: string(d.c.Mode), Alg: string(d.c.Token.Alg),
		ReturnTo: d.final, Hops: []hopView{}, SharedCookie: []roleView{},
	}
	for i, a := range d.arrows {
		v.Hops = append(v.Hops, hopView{N: i + 1, Kind: string(a.hop.Kind), From: a.from.name, To: a.to.name, Method: a.hop.Method, URL: a.hop.To, Audience: a.hop.Audience})
	}
	for _, r := range d.roles {
		if r.shared {
			v.SharedCookie = append(v.SharedCookie, roleView{Name: r.name, URL: r.url})
		}
	}
	return cmdutil.WriteJSON(w, v)
}
