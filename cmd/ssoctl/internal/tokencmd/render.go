package tokencmd

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// tokenView is a token's -o json form: header and claims exactly as the
// token has them, plus the times worked out.
type tokenView struct {
	Header          jsontext.Value      `json:"header"`
	Claims          jsontext.Value      `json:"claims"`
	Times           map[string]timeView `json:"times,omitempty"`
	LifetimeSeconds *int64              `json:"lifetime_seconds,omitempty"`
	Expired         bool                `json:"expired"`
	SignatureBytes  int                 `json:"signature_bytes"`
}

// timeView is a claim time as RFC 3339 plus seconds: since the epoch, and
// from now (negative in the past).
type timeView struct {
	Time           string `json:"time"`
	Unix           int64  `json:"unix"`
	SecondsFromNow int64  `json:"seconds_from_now"`
}

type reasonView struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func newTokenView(t *token.Token, now time.Time) tokenView {
	v := tokenView{
		Header:         jsontext.Value(t.RawHeader),
		Claims:         jsontext.Value(t.RawClaims),
		Times:          map[string]timeView{},
		SignatureBytes: len(t.Signature),
	}
	c := &t.Claims
	for name, d := range map[string]token.NumericDate{"iat": c.IssuedAt, "nbf": c.NotBefore, "exp": c.Expiry} {
		if !d.IsZero() {
			v.Times[name] = timeView{
				Time:           d.UTC().Format(time.RFC3339),
				Unix:           d.Unix(),
				SecondsFromNow: int64(d.Sub(now).Truncate(time.Second) / time.Second),
			}
		}
	}
	if life := c.Lifetime(); life != 0 {
		s := int64(life / time.Second)
		v.LifetimeSeconds = &s
	}
	// exp is the first instant a token is no longer valid (RFC 7519 §4.1.4),
	// as the token_expired check and the text ("expired now") have it.
	v.Expired = !c.Expiry.IsZero() && !now.Before(c.Expiry.Time)
	return v
}

func reasonViews(fs []*token.Failure) []reasonView {
	out := make([]reasonView, 0, len(fs))
	for _, f := range fs {
		out = append(out, reasonView{Code: f.Reason.Code, Message: f.Error()})
	}
	return out
}

// printHeader writes a token's header section, the same for every kind.
func printHeader(w io.Writer, st *cmdutil.Styles, h *token.Header) {
	fmt.Fprintln(w, st.Heading.Render("Header"))
	row(w, st, "alg", cmdutil.Printable(h.Alg), "")
	if h.Kid != "" {
		row(w, st, "kid", cmdutil.Printable(h.Kid), "")
	}
	if h.Typ != "" {
		row(w, st, "typ", cmdutil.Printable(h.Typ), "")
	}
	if h.Crit != nil {
		row(w, st, "crit", cmdutil.Printable(string(h.Crit)), "")
	}
	printExtra(w, st, h.Extra)
}

// printToken writes the header, claims and signature sections.
func printToken(w io.Writer, st *cmdutil.Styles, t *token.Token, now time.Time) {
	printHeader(w, st, &t.Header)

	c := &t.Claims
	fmt.Fprintln(w)
	fmt.Fprintln(w, st.Heading.Render("Claims"))
	for _, s := range []struct{ name, value, note string }{
		{"iss", c.Issuer, "issuer"},
		{"aud", strings.Join(c.Audience, ", "), "audience"},
		{"sub", c.Subject, "subject"},
		{"sid", c.SessionID, "IdP session"},
		{"jti", c.ID, "token id, single use"},
		{"chn", c.Chain, "propagation id"},
		{"ret", c.Return, "next hop"},
	} {
		if s.value != "" {
			row(w, st, s.name, cmdutil.Printable(s.value), s.note)
		}
	}
	timeRow(w, st, "iat", c.IssuedAt, now, "issued", "issued")
	timeRow(w, st, "nbf", c.NotBefore, now, "valid", "valid")
	timeRow(w, st, "exp", c.Expiry, now, "expires", "expired")
	if life := c.Lifetime(); life != 0 {
		row(w, st, "lifetime", token.FormatLifetime(life), "exp - iat")
	}
	printExtra(w, st, c.Extra)

	fmt.Fprintln(w)
	fmt.Fprintln(w, st.Heading.Render("Signature"))
	row(w, st, "bytes", strconv.Itoa(len(t.Signature)), "")
}

func timeRow(w io.Writer, st *cmdutil.Styles, name string, d token.NumericDate, now time.Time, future, past string) {
	if d.IsZero() {
		return
	}
	verb := past
	if d.After(now) {
		verb = future
	}
	row(w, st, name, d.UTC().Format(time.RFC3339), verb+" "+cmdutil.Since(d.Time, now))
}

func printExtra(w io.Writer, st *cmdutil.Styles, extra map[string]jsontext.Value) {
	names := make([]string, 0, len(extra))
	for name := range extra {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := append(jsontext.Value(nil), extra[name]...)
		_ = v.Compact()
		// JSON escapes C0 controls but not C1 ones (U+009B is CSI to
		// many terminals) nor bidi overrides, so the value needs clean too.
		row(w, st, cmdutil.Printable(name), cmdutil.Printable(string(v)), "")
	}
}

func row(w io.Writer, st *cmdutil.Styles, label, value, note string) {
	line := "  " + st.Label.Render(fmt.Sprintf("%-9s", label)) + " " + value
	if note != "" {
		line += "  " + st.Dim.Render("("+note+")")
	}
	fmt.Fprintln(w, line)
}

func printReasons(w io.Writer, st *cmdutil.Styles, fs []*token.Failure, mark string, style func(...string) string) {
	width := 0
	for _, f := range fs {
		width = max(width, len(f.Reason.Code))
	}
	for _, f := range fs {
		fmt.Fprintf(w, "  %s %s  %s\n", style(mark), st.Code.Render(fmt.Sprintf("%-*s", width, f.Reason.Code)), cmdutil.Printable(f.Error()))
	}
}
