package tokencmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// oidcOnlyFlags lists the flags given that mean something only with
// --oidc-issuer.
func oidcOnlyFlags(opts *VerifyOptions) []string {
	var set []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"--audience", opts.OIDCAudience != ""}, {"--nonce", opts.Nonce != ""},
		{"--max-age", opts.MaxAge != 0}, {"--access-token", opts.AccessToken},
	} {
		if f.set {
			set = append(set, f.name)
		}
	}
	return set
}

// oidcVerifyView is verify's -o json document for an ID token or access
// token: the handoff verdict's shape plus the kind, the provider and the
// OIDC claims.
type oidcVerifyView struct {
	verifyView
	Kind     string    `json:"kind"`
	Provider string    `json:"provider"`
	OIDC     *oidcView `json:"oidc,omitempty"`
}

// verifyOIDCRun verifies an ID token or JWT access token against the
// provider at --oidc-issuer: discovery, then go-oidc's signature check with
// the provider's keys, then every claim check, each failure listed.
func verifyOIDCRun(ctx context.Context, opts *VerifyOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	format, err := opts.f.OutputFormat()
	if err != nil {
		return err
	}
	if keys := opts.Keys.sources(); len(keys) > 0 || opts.Keys.Kid != "" || opts.Keys.Alg != "" {
		return cmdutil.UsageError("drop the key flags: with --oidc-issuer the keys come from the provider's JWK Set and the algorithms from its discovery document",
			"--oidc-issuer cannot be combined with %s", strings.Join(append(keys, keyPinFlags(opts)...), ", "))
	}
	audience := opts.OIDCAudience
	if opts.Audience != "" {
		if audience != "" && audience != opts.Audience {
			return cmdutil.UsageError("give the client id once, with --audience", "--aud %q and --audience %q differ", opts.Audience, audience)
		}
		audience = opts.Audience
	}
	if audience == "" {
		what := "the client id the ID token was issued to, e.g. --audience my-app"
		if opts.AccessToken {
			what = "the resource the access token is for, e.g. --audience https://api.example.com"
		}
		return cmdutil.UsageError("pass "+what, "--audience is required with --oidc-issuer: a verifier that does not say whom it expects accepts tokens meant for someone else")
	}
	if opts.Issuer != "" && opts.Issuer != opts.OIDCIssuer {
		return cmdutil.UsageError("drop --iss: --oidc-issuer is the issuer the token must name", "--iss %q and --oidc-issuer %q differ", opts.Issuer, opts.OIDCIssuer)
	}
	if opts.AccessToken && opts.Nonce != "" {
		return cmdutil.UsageError("drop --nonce: access tokens carry no nonce", "--nonce does not apply with --access-token")
	}
	if opts.AccessToken && opts.MaxAge != 0 {
		return cmdutil.UsageError("drop --max-age: auth_time is an ID token's claim", "--max-age does not apply with --access-token")
	}
	if opts.Leeway < 0 || opts.Leeway > time.Minute {
		return cmdutil.UsageError("", "--leeway %s is out of range; give 0s to 1m", opts.Leeway)
	}
	if opts.MaxAge < 0 {
		return cmdutil.UsageError("", "--max-age must not be negative")
	}
	maxLifetime := time.Duration(0) // the handoff's 30s default is no rule for ID tokens
	if opts.maxLifetimeSet {
		if opts.MaxLifetime <= 0 {
			return cmdutil.UsageError("", "--max-lifetime must be positive")
		}
		maxLifetime = opts.MaxLifetime
	}
	jsonError := func(code string, err error) error { return opts.jsonError(format, code, err) }
	in, err := readTokenInput(opts.f, opts.Args)
	if err != nil {
		if cmdutil.ExitCode(err) == cmdutil.ExitCheckFailed {
			return jsonError("no_token", err)
		}
		return err
	}
	if in.Extra > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "ssoctl: note: %d more token(s) found in the input; verifying the first, from %s\n", in.Extra, in.Where)
	}
	provider, err := token.DiscoverOIDC(ctx, opts.OIDCIssuer, opts.f.HTTPClient())
	switch {
	case errors.Is(err, token.ErrProviderIssuerMismatch):
		return cmdutil.UsageError("pass --oidc-issuer exactly as the provider names itself (the issuer in its discovery document, trailing slash and all)", "%v", err)
	case errors.Is(err, token.ErrProviderUnavailable):
		return jsonError("provider_unavailable", cmdutil.UnavailableError("check that the provider is reachable from here and serves /.well-known/openid-configuration", err))
	case err != nil:
		return cmdutil.UsageError("", "--oidc-issuer: %v", err)
	}
	now := opts.f.Now()
	kind := token.KindIDToken
	if opts.AccessToken {
		kind = token.KindAccessToken
	}
	v, err := provider.Verifier(token.OIDCConfig{
		Audience: audience, AccessToken: opts.AccessToken, Nonce: opts.Nonce, MaxAge: opts.MaxAge,
		Leeway: opts.Leeway, MaxLifetime: maxLifetime, Now: func() time.Time { return now },
	})
	if err != nil {
		return cmdutil.UsageError("", "%v", err)
	}
	tok, claims, err := v.Verify(ctx, in.Token)
	inv, failures, err := verdict(err, "check that the provider's jwks_uri is reachable from here and serves a JWK Set", jsonError)
	if err != nil {
		return err
	}
	if opts.Quiet {
		if inv != nil {
			return cmdutil.CheckFailed()
		}
		return nil
	}
	hints := oidcHints(opts, tok, claims, kind, failures)
	if format == cmdutil.FormatJSON {
		view := oidcVerifyView{
			verifyView: verifyView{SchemaVersion: cmdutil.SchemaVersion, Valid: inv == nil, FoundIn: in.Where, Reasons: reasonViews(failures), Hints: hints},
			Kind:       string(kind),
			Provider:   provider.Issuer(),
		}
		if tok != nil {
			tv := newTokenView(tok, now)
			view.tokenView = &tv
			view.OIDC = newOIDCView(claims, now)
		}
		if err := cmdutil.WriteJSON(opts.IO.Out, view); err != nil {
			return err
		}
	} else {
		printOIDCVerify(opts, tok, claims, kind, failures, hints, in, now)
	}
	if inv != nil {
		return cmdutil.CheckFailed()
	}
	return nil
}

func keyPinFlags(opts *VerifyOptions) []string {
	var set []string
	if opts.Keys.Kid != "" {
		set = append(set, "--kid")
	}
	if opts.Keys.Alg != "" {
		set = append(set, "--alg")
	}
	return set
}

func printOIDCVerify(opts *VerifyOptions, tok *token.Token, o *token.OIDCClaims, kind token.Kind, failures []*token.Failure, hints []string, in *tokenInput, now time.Time) {
	st := cmdutil.NewStyles(opts.IO.Out, opts.IO.ColorEnabled())
	w := opts.IO.Out
	if len(failures) == 0 {
		c := &tok.Claims
		fmt.Fprintf(w, "%s  %s\n", st.Good.Render("VALID"), fmt.Sprintf("%s for %s from %s, subject %s, %s, signed by %s key %q",
			kind, cmdutil.Printable(opts.audience()), cmdutil.Printable(c.Issuer), cmdutil.Printable(c.Subject), expiresPhrase(c.Expiry, now), tok.Header.Alg, cmdutil.Printable(tok.Header.Kid)))
		for _, hint := range hints {
			fmt.Fprintf(w, "  %s\n", st.Dim.Render("hint: "+hint))
		}
	} else {
		printInvalid(w, st, failures, hints)
	}
	fmt.Fprintf(w, "%s  %s\n", st.Label.Render("found in"), cmdutil.Printable(in.Where))
	if tok == nil {
		return
	}
	fmt.Fprintln(w)
	printOIDCToken(w, st, tok, o, now)
}

func (opts *VerifyOptions) audience() string {
	if opts.OIDCAudience != "" {
		return opts.OIDCAudience
	}
	return opts.Audience
}

// oidcHints name the likely fix for what went wrong with an ID token or
// access token, one per failure that has one.
func oidcHints(opts *VerifyOptions, tok *token.Token, o *token.OIDCClaims, kind token.Kind, failures []*token.Failure) []string {
	var hints hintList
	for _, f := range failures {
		switch f.Reason {
		case token.ErrIssuerMismatch:
			hints.add("the token's iss must equal --oidc-issuer exactly; it came from another provider or tenant")
		case token.ErrAudienceMismatch, token.ErrAzpMismatch:
			if o != nil && o.AuthorizedParty != "" && o.AuthorizedParty != opts.audience() {
				hints.add(fmt.Sprintf("the token was issued to client %q; pass that as --audience if it is yours", cmdutil.Printable(o.AuthorizedParty)))
			} else {
				hints.add("pass the client id the token was issued to as --audience")
			}
		case token.ErrSignatureInvalid:
			hints.add("the provider's JWK Set lacks the token's key: another provider, a key rotated out, or an altered token")
		case token.ErrAlgNotAllowed:
			if tok != nil && strings.HasPrefix(strings.ToUpper(tok.Header.Alg), "HS") {
				hints.add("an HS256 ID token is signed with the client secret; ask the provider for RS256 or ES256 ID tokens")
			}
		case token.ErrTypMismatch, token.ErrTypMissing:
			if tok != nil {
				switch k, _ := token.KindOf(tok); {
				case kind == token.KindIDToken && k == token.KindAccessToken:
					hints.add("this looks like an access token; add --access-token")
				case kind == token.KindAccessToken && k == token.KindIDToken:
					hints.add("this looks like an ID token; drop --access-token")
				case k == token.KindHandoff || k == token.KindLogout:
					hints.add("this is an ssoctl " + k.String() + "; verify it without --oidc-issuer, with --iss, --aud and a key")
				}
			}
		case token.ErrNonceMismatch, token.ErrNonceMissing:
			hints.add("the token answers another authentication request (or a replayed one); --nonce must be the value this login sent")
		case token.ErrAuthTimeTooOld:
			hints.add("the user signed in too long ago: the provider ignored max_age or the login was replayed; send prompt=login to force a fresh sign-in")
		case token.ErrExpired:
			hints.add("ID tokens are checked once, at login; get a fresh one rather than raising --leeway")
		}
	}
	if tok != nil && o != nil && o.Nonce != "" && opts.Nonce == "" && kind == token.KindIDToken {
		hints.add("the token carries a nonce; pass --nonce to check it")
	}
	return hints
}
