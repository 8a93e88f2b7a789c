package tokencmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// VerifyOptions are the inputs of `token verify`.
type VerifyOptions struct {
	IO   *cmdutil.IOStreams
	Keys keyFlags
	Args []string

	Issuer      string
	Audience    string
	Leeway      time.Duration
	MaxLifetime time.Duration
	Quiet       bool

	// ID tokens and JWT access tokens (verify_oidc.go).
	OIDCIssuer     string
	OIDCAudience   string
	Nonce          string
	MaxAge         time.Duration
	AccessToken    bool
	maxLifetimeSet bool

	f *cmdutil.Factory
}

// NewCmdVerify returns `token verify`. runF replaces verifyRun in tests.
func NewCmdVerify(f *cmdutil.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "verify [TOKEN | URL | -] --iss URL --aud NAME (--secret-env NAME | --secret-file PATH | --key-file PATH | --jwks-url URL | --jwks-file PATH)",
		Short: "Run every check a receiver runs on a token",
		Long: `Verify a handoff token exactly as a receiver does, and list every check that fails.

--iss and --aud are required: a verifier that does not say whom it expects
accepts tokens meant for someone else. The algorithm is pinned by the key, never
taken from the token. Checked: signature; alg (never "none"); kid; no jku, jwk,
x5u, x5c or crit headers; typ "sso-handoff+jwt"; exp, iat, iss, aud (exactly one),
jti and sid present; not expired, not issued in the future (--leeway); lifetime
at most --max-lifetime; a ret that is a plain absolute URL; no duplicate JSON
members; at most 8 KiB. Single use (jti replay) is the receiver's to enforce and
is not checked here.

With --oidc-issuer URL --audience CLIENT_ID it verifies an OpenID Connect ID
token instead (or a JWT access token, typ at+jwt, with --access-token): discovery
at URL/.well-known/openid-configuration, the signature with the provider's JWK
Set (go-oidc; algorithms the provider advertises, never none or HMAC), iss equal
to URL, aud containing the client id, azp, exp/iat/nbf (--leeway), --nonce and
--max-age (auth_time). See docs/oidc-tokens.md.

Exit status: 0 valid, 1 invalid (every reason listed; codes in -o json),
2 usage error, 3 the --jwks-url could not be fetched (or, with --oidc-issuer,
the provider's discovery document or JWK Set).`,
		Example: `  ssoctl token verify "$TOKEN" --iss https://accounts.example.com --aud portal --secret-env SSO_SECRET
  ssoctl token verify 'https://portal.example.org/sso?token=eyJ...' --iss https://accounts.example.com \
      --aud portal --jwks-url https://accounts.example.com/.well-known/jwks.json
  ssoctl token mint ... | ssoctl token verify - --iss https://accounts.example.com --aud portal --jwks-file keys/jwks.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			opts.maxLifetimeSet = cmd.Flags().Changed("max-lifetime")
			if runF != nil {
				return runF(opts)
			}
			if opts.OIDCIssuer != "" {
				return verifyOIDCRun(cmd.Context(), opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Issuer, "iss", "", "expected issuer, exactly as in the token (required)")
	fl.StringVar(&opts.Audience, "aud", "", "expected audience: this receiver's name or origin (required)")
	fl.DurationVar(&opts.Leeway, "leeway", token.DefaultLeeway, "clock skew allowed on exp, nbf and iat")
	fl.DurationVar(&opts.MaxLifetime, "max-lifetime", token.DefaultMaxLifetime, "refuse tokens whose exp - iat is longer")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing; the exit status says it all")
	opts.Keys.register(fl, true)
	fl.StringVar(&opts.OIDCIssuer, "oidc-issuer", "", "verify an ID token (or, with --access-token, a JWT access token) from the OpenID provider at `URL`: discovery and its JWKS")
	fl.StringVar(&opts.OIDCAudience, "audience", "", "with --oidc-issuer: the client id the ID token must be for (the resource for an access token)")
	fl.StringVar(&opts.Nonce, "nonce", "", "with --oidc-issuer: the nonce sent in the authentication request; the ID token must carry it")
	fl.DurationVar(&opts.MaxAge, "max-age", 0, "with --oidc-issuer: refuse an ID token whose auth_time is longer ago (the max_age request parameter)")
	fl.BoolVar(&opts.AccessToken, "access-token", false, "with --oidc-issuer: the token is a JWT access token (RFC 9068, typ at+jwt), not an ID token")
	return cmd
}

type verifyView struct {
	SchemaVersion int          `json:"schema_version"`
	Valid         bool         `json:"valid"`
	FoundIn       string       `json:"found_in,omitempty"`
	Reasons       []reasonView `json:"reasons"`
	Hints         []string     `json:"hints,omitempty"`
	Error         *reasonView  `json:"error,omitempty"` // no verdict: no token, or keys unavailable
	*tokenView
}

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	format, err := opts.f.OutputFormat()
	if err != nil {
		return err
	}
	if set := oidcOnlyFlags(opts); len(set) > 0 {
		return cmdutil.UsageError("add --oidc-issuer URL to verify an ID token or access token", "%s applies only with --oidc-issuer", strings.Join(set, ", "))
	}
	if opts.Issuer == "" {
		return cmdutil.UsageError("pass the issuer origin the token must come from, e.g. --iss https://accounts.example.com", "--iss is required")
	}
	if opts.Audience == "" {
		return cmdutil.UsageError("pass the receiver this token must be for, e.g. --aud portal", "--aud is required")
	}
	if opts.Leeway < 0 || opts.Leeway > time.Minute {
		return cmdutil.UsageError("", "--leeway %s is out of range; give 0s to 1m", opts.Leeway)
	}
	if opts.MaxLifetime <= 0 {
		return cmdutil.UsageError("", "--max-lifetime must be positive")
	}
	if (len(opts.Args) == 0 || opts.Args[0] == "-") && opts.Keys.readsStdin() {
		return cmdutil.UsageError("pass the token as the argument, or the key in a file or environment variable", "the token and the key cannot both come from stdin")
	}
	keys, notes, err := opts.Keys.keySource(opts.f)
	if err != nil {
		return err
	}
	jsonError := func(code string, err error) error { return opts.jsonError(format, code, err) }
	in, err := readTokenInput(opts.f, opts.Args)
	if err != nil {
		if cmdutil.ExitCode(err) == cmdutil.ExitCheckFailed {
			return jsonError("no_token", err)
		}
		return err
	}
	for _, n := range notes {
		fmt.Fprintf(opts.IO.ErrOut, "ssoctl: note: %s\n", n)
	}
	if in.Extra > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "ssoctl: note: %d more token(s) found in the input; verifying the first, from %s\n", in.Extra, in.Where)
	}
	now := opts.f.Now()
	v, err := token.NewVerifier(keys, opts.Issuer, opts.Audience,
		token.WithLeeway(opts.Leeway), token.WithMaxLifetime(opts.MaxLifetime),
		token.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return cmdutil.UsageError("", "%v", err)
	}
	tok, err := v.Verify(ctx, in.Token)
	inv, failures, err := verdict(err, "check that the JWKS URL is reachable from here and serves a JWK Set", jsonError)
	if err != nil {
		return err
	}
	if opts.Quiet {
		if inv != nil {
			return cmdutil.CheckFailed()
		}
		return nil
	}
	if format == cmdutil.FormatJSON {
		view := verifyView{SchemaVersion: cmdutil.SchemaVersion, Valid: inv == nil, FoundIn: in.Where, Reasons: reasonViews(failures), Hints: verifyHints(opts, tok, failures)}
		if tok != nil {
			tv := newTokenView(tok, now)
			view.tokenView = &tv
		}
		if err := cmdutil.WriteJSON(opts.IO.Out, view); err != nil {
			return err
		}
	} else {
		printVerify(opts, tok, failures, in, now)
	}
	if inv != nil {
		return cmdutil.CheckFailed()
	}
	return nil
}

func printVerify(opts *VerifyOptions, tok *token.Token, failures []*token.Failure, in *tokenInput, now time.Time) {
	st := cmdutil.NewStyles(opts.IO.Out, opts.IO.ColorEnabled())
	w := opts.IO.Out
	if len(failures) == 0 {
		c := &tok.Claims
		fmt.Fprintf(w, "%s  %s\n", st.Good.Render("VALID"), fmt.Sprintf("handoff for %s from %s, %s, signed by %s key %q",
			cmdutil.Printable(c.Audience[0]), cmdutil.Printable(c.Issuer), expiresPhrase(c.Expiry, now), tok.Header.Alg, tok.Header.Kid))
	} else {
		printInvalid(w, st, failures, verifyHints(opts, tok, failures))
	}
	fmt.Fprintf(w, "%s  %s\n", st.Label.Render("found in"), cmdutil.Printable(in.Where))
	if tok == nil {
		return
	}
	fmt.Fprintln(w)
	printToken(w, st, tok, now)
}

// jsonError returns err; with -o json it first writes it as the one
// document on stdout, so a pipeline reading it sees why no verdict came.
func (opts *VerifyOptions) jsonError(format, code string, err error) error {
	if format == cmdutil.FormatJSON && !opts.Quiet {
		_ = cmdutil.WriteJSON(opts.IO.Out, verifyView{SchemaVersion: cmdutil.SchemaVersion, Reasons: []reasonView{}, Error: &reasonView{Code: code, Message: err.Error()}})
	}
	return err
}

// verdict reads a verifier's error: the verdict (inv nil when the token is
// valid) with its failures, or an error the command returns as it is;
// keysFix is the hint when the keys could not be fetched (exit 3).
func verdict(err error, keysFix string, jsonError func(code string, err error) error) (*token.InvalidError, []*token.Failure, error) {
	var inv *token.InvalidError
	switch {
	case errors.Is(err, token.ErrKeysUnavailable):
		return nil, nil, jsonError("keys_unavailable", cmdutil.UnavailableError(keysFix, err))
	case err != nil && !errors.As(err, &inv):
		return nil, nil, err
	case inv != nil:
		return inv, inv.Failures, nil
	}
	return nil, nil, nil
}

// printInvalid writes an INVALID verdict: how many problems, each reason,
// then the hints.
func printInvalid(w io.Writer, st *cmdutil.Styles, failures []*token.Failure, hints []string) {
	problems := "problem"
	if len(failures) > 1 {
		problems = "problems"
	}
	fmt.Fprintf(w, "%s  %d %s\n", st.Bad.Render("INVALID"), len(failures), problems)
	printReasons(w, st, failures, "✗", st.Bad.Render)
	for _, hint := range hints {
		fmt.Fprintf(w, "  %s\n", st.Dim.Render("hint: "+hint))
	}
}

func expiresPhrase(exp token.NumericDate, now time.Time) string {
	if exp.After(now) {
		return "expires " + cmdutil.Since(exp.Time, now)
	}
	return "expired " + cmdutil.Since(exp.Time, now) + " (within leeway)"
}

// hintList holds fixes to suggest, in order, each once: several failures
// often share one cause.
type hintList []string

func (l *hintList) add(hint string) {
	if !slices.Contains(*l, hint) {
		*l = append(*l, hint)
	}
}

// verifyHints names the likely fix for the commonest operator mistakes,
// one hint per failure that has one.
func verifyHints(opts *VerifyOptions, tok *token.Token, failures []*token.Failure) []string {
	var hints hintList
	for _, f := range failures {
		switch f.Reason {
		case token.ErrKidUnknown:
			if opts.Keys.SecretEnv != "" || opts.Keys.SecretFile != "" || opts.Keys.KeyFile != "" {
				hints.add("if this key is the one the token names, pass its kid with --kid")
			}
			if opts.Keys.JWKSFile != "" || opts.Keys.JWKSURL != "" {
				hints.add("the token was signed by a key the set lacks: another key, or one rotated in after this set was fetched or copied")
			}
		case token.ErrSignatureInvalid:
			if opts.Keys.SecretEnv != "" || opts.Keys.SecretFile != "" {
				hints.add("the secret differs from the minter's; check for a trailing newline or a base64 value decoded on one side only (secrets are used exactly as given)")
			}
		case token.ErrTypMismatch, token.ErrTypMissing:
			if tok != nil {
				if kind, why := token.KindOf(tok); kind == token.KindIDToken || kind == token.KindAccessToken {
					flag := ""
					if kind == token.KindAccessToken {
						flag = " --access-token"
					}
					hints.add(fmt.Sprintf("this looks like an %s (%s), not a handoff; verify it with --oidc-issuer URL --audience CLIENT_ID%s", strings.TrimPrefix(kind.String(), "JWT "), why, flag))
				}
			}
		case token.ErrExpired, token.ErrIssuedInFuture, token.ErrNotYetValid:
			hints.add("handoffs live seconds; if minter and verifier clocks disagree, fix NTP rather than raising --leeway")
		case token.ErrIssuerMismatch:
			if tok != nil && strings.TrimSuffix(tok.Claims.Issuer, "/") == strings.TrimSuffix(opts.Issuer, "/") {
				hints.add("the issuers differ only by a trailing slash; iss is compared exactly, so make --iss (or the minter) match")
			} else if strings.Contains(opts.Issuer, "/") && !strings.Contains(opts.Issuer, "://") {
				hints.add("--iss is usually an origin such as https://accounts.example.com")
			}
		}
	}
	return hints
}
