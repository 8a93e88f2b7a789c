package tokencmd

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// oidcView is what -o json adds for an ID token or access token: the OIDC
// claims read and worked out. The nonce is shown only as present or not;
// the claims object beside it is the token's own.
type oidcView struct {
	NoncePresent  bool      `json:"nonce_present"`
	AuthTime      *timeView `json:"auth_time,omitempty"`
	AZP           string    `json:"azp,omitempty"`
	ACR           string    `json:"acr,omitempty"`
	AMR           []string  `json:"amr,omitempty"`
	Email         string    `json:"email,omitempty"`
	EmailVerified *bool     `json:"email_verified,omitempty"`
	ClientID      string    `json:"client_id,omitempty"`
	Scope         string    `json:"scope,omitempty"`
}

func newOIDCView(o *token.OIDCClaims, now time.Time) *oidcView {
	v := &oidcView{
		NoncePresent: o.Nonce != "", AZP: o.AuthorizedParty, ACR: o.ACR, AMR: o.AMR,
		Email: o.Email, EmailVerified: o.EmailVerified, ClientID: o.ClientID, Scope: o.Scope,
	}
	if !o.AuthTime.IsZero() {
		v.AuthTime = &timeView{
			Time:           o.AuthTime.UTC().Format(time.RFC3339),
			Unix:           o.AuthTime.Unix(),
			SecondsFromNow: int64(o.AuthTime.Sub(now).Truncate(time.Second) / time.Second),
		}
	}
	return v
}

func decodeOIDC(opts *DecodeOptions, format string, in *tokenInput, oi *token.OIDCInspection, now time.Time) error {
	if format == cmdutil.FormatJSON {
		return cmdutil.WriteJSON(opts.IO.Out, decodeView{
			SchemaVersion: cmdutil.SchemaVersion,
			FoundIn:       in.Where,
			Kind:          string(oi.Kind),
			KindWhy:       oi.Why,
			tokenView:     newTokenView(oi.Token, now),
			OIDC:          newOIDCView(&oi.OIDC, now),
			Warnings:      reasonViews(oi.Warnings),
		})
	}
	st := cmdutil.NewStyles(opts.IO.Out, opts.IO.ColorEnabled())
	w := opts.IO.Out
	fmt.Fprintf(w, "%s  %s\n", st.Warn.Render("UNVERIFIED"), st.Dim.Render("decoded without a key: nothing below is trusted; check it with 'ssoctl token verify --oidc-issuer URL'"))
	fmt.Fprintf(w, "%s  %s\n", st.Label.Render("found in"), cmdutil.Printable(in.Where))
	fmt.Fprintf(w, "%s  %s  %s\n\n", st.Label.Render("looks like"), oi.Kind.String(), st.Dim.Render("("+cmdutil.Printable(oi.Why)+")"))
	printOIDCToken(w, st, oi.Token, &oi.OIDC, now)
	fmt.Fprintln(w)
	if len(oi.Warnings) == 0 {
		fmt.Fprintf(w, "%s  %s\n", st.Heading.Render("Warnings"), st.Dim.Render("none for an "+strings.TrimPrefix(oi.Kind.String(), "JWT ")))
		return nil
	}
	fmt.Fprintln(w, st.Heading.Render("Warnings"))
	printReasons(w, st, oi.Warnings, "!", st.Warn.Render)
	return nil
}

// oidcShown are the claims printOIDCToken shows by name; the rest are
// listed after them as they are.
var oidcShown = map[string]bool{
	"azp": true, "nonce": true, "auth_time": true, "acr": true, "amr": true, "email": true,
	"email_verified": true, "client_id": true, "scope": true, "scp": true,
}

// printOIDCToken writes an ID token's or access token's header, claims and
// signature sections. It shows that a nonce is present, not its value.
func printOIDCToken(w io.Writer, st *cmdutil.Styles, t *token.Token, o *token.OIDCClaims, now time.Time) {
	printHeader(w, st, &t.Header)

	c := &t.Claims
	fmt.Fprintln(w)
	fmt.Fprintln(w, st.Heading.Render("Claims"))
	email := o.Email
	emailNote := "email"
	if o.EmailVerified != nil {
		emailNote = "email, verified: " + strconv.FormatBool(*o.EmailVerified)
	}
	for _, s := range []struct{ name, value, note string }{
		{"iss", c.Issuer, "issuer"},
		{"sub", c.Subject, "subject"},
		{"aud", strings.Join(c.Audience, ", "), "audience"},
		{"azp", o.AuthorizedParty, "authorized party: the client it was issued to"},
		{"client_id", o.ClientID, "client"},
		{"scope", o.Scope, "scope"},
		{"sid", c.SessionID, "provider session"},
		{"jti", c.ID, "token id"},
		{"acr", o.ACR, "authentication context class"},
		{"amr", strings.Join(o.AMR, ", "), "authentication methods"},
		{"email", email, emailNote},
	} {
		if s.value != "" {
			row(w, st, s.name, cmdutil.Printable(s.value), s.note)
		}
	}
	if _, ok := c.Extra["nonce"]; ok {
		row(w, st, "nonce", fmt.Sprintf("present, %d characters", len(o.Nonce)), "check it with verify --nonce")
	}
	timeRow(w, st, "auth_time", o.AuthTime, now, "authenticated", "authenticated")
	timeRow(w, st, "iat", c.IssuedAt, now, "issued", "issued")
	timeRow(w, st, "nbf", c.NotBefore, now, "valid", "valid")
	timeRow(w, st, "exp", c.Expiry, now, "expires", "expired")
	if life := c.Lifetime(); life != 0 {
		row(w, st, "lifetime", token.FormatLifetime(life), "exp - iat")
	}
	rest := map[string]jsontext.Value{}
	for name, v := range c.Extra {
		if !oidcShown[name] {
			rest[name] = v
		}
	}
	// The handoff fields an ID token may also carry, when it does.
	for name, v := range map[string]string{"chn": c.Chain, "ret": c.Return} {
		if v != "" {
			rest[name] = jsontext.Value(strconv.Quote(v))
		}
	}
	printExtra(w, st, rest)

	fmt.Fprintln(w)
	fmt.Fprintln(w, st.Heading.Render("Signature"))
	row(w, st, "bytes", strconv.Itoa(len(t.Signature)), "")
}
