package tokencmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// MintOptions are the inputs of `token mint`.
type MintOptions struct {
	IO   *cmdutil.IOStreams
	Keys keyFlags

	Issuer    string
	Audience  string
	Subject   string
	SessionID string
	TTL       time.Duration
	ID        string
	Chain     string
	Return    string
	Claims    []string

	f *cmdutil.Factory
}

// NewCmdMint returns `token mint`. runF replaces mintRun in tests.
func NewCmdMint(f *cmdutil.Factory, runF func(*MintOptions) error) *cobra.Command {
	opts := &MintOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "mint --iss URL --aud NAME --sub ID --sid ID (--secret-env NAME | --secret-file PATH | --key-file PATH)",
		Short: "Sign a handoff token, as the issuer does",
		Long: `Sign a handoff token and print only the token, so it can be piped or put in a URL.

The header is {alg, kid, typ: "sso-handoff+jwt"}. iat is now, exp is iat + --ttl,
jti and chn are fresh random 128-bit ids unless given. The key comes from
--secret-env / --secret-file (HS256; at least 32 bytes, used exactly as given)
or --key-file (a private key: PEM, JWK or JWK Set from 'token keygen').

A --ttl above 30s mints a token that receivers refuse by default; that is
allowed, for testing them, and noted on stderr.`,
		Example: `  ssoctl token mint --iss https://accounts.example.com --aud portal --sub u1 --sid s1 --secret-env SSO_SECRET
  ssoctl token mint --iss https://accounts.example.com --aud portal --sub u1 --sid s1 \
      --key-file keys/private.pem --ret https://portal.example.org/ --claim role=admin --claim 'groups:=["ops"]'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return mintRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Issuer, "iss", "", "issuer origin, e.g. https://accounts.example.com (required)")
	fl.StringVar(&opts.Audience, "aud", "", "the one receiver the token is for, by name or origin (required)")
	fl.StringVar(&opts.Subject, "sub", "", "identity id at the IdP (required)")
	fl.StringVar(&opts.SessionID, "sid", "", "IdP session id (required)")
	fl.DurationVar(&opts.TTL, "ttl", token.DefaultTTL, "lifetime; receivers refuse more than 30s by default")
	fl.StringVar(&opts.ID, "jti", "", "token id (default: random); a receiver accepts each jti once")
	fl.StringVar(&opts.Chain, "chn", "", "propagation id shared by every hop of one login (default: random)")
	fl.StringVar(&opts.Return, "ret", "", "where the receiver sends the browser next (absolute http(s) URL)")
	fl.StringArrayVar(&opts.Claims, "claim", nil, "extra claim `k=v` (string) or `k:=JSON` (any JSON value); repeatable")
	opts.Keys.register(fl, false)
	return cmd
}

func mintRun(opts *MintOptions) error {
	format, err := opts.f.OutputFormat()
	if err != nil {
		return err
	}
	for _, req := range []struct{ flag, value, what string }{
		{"--iss", opts.Issuer, "the issuer origin, e.g. https://accounts.example.com"},
		{"--aud", opts.Audience, "the receiver the token is for, e.g. portal"},
		{"--sub", opts.Subject, "the identity id at the IdP"},
		{"--sid", opts.SessionID, "the IdP session id the receiver re-checks"},
	} {
		if req.value == "" {
			return cmdutil.UsageError("mint needs --iss, --aud, --sub and --sid; run 'ssoctl token mint --help' for an example", "%s is required: %s", req.flag, req.what)
		}
	}
	if opts.TTL < time.Second {
		return cmdutil.UsageError("", "--ttl %s is too short; give at least 1s", opts.TTL)
	}
	if opts.Return != "" {
		if err := token.CheckReturnURL(opts.Return); err != nil {
			return cmdutil.UsageError("--ret is where the receiver sends the browser next, e.g. https://portal.example.org/", "--ret %v", err)
		}
	}
	extra, err := parseClaimFlags(opts.Claims)
	if err != nil {
		return err
	}
	key, err := opts.Keys.signingKey(opts.f)
	if err != nil {
		return err
	}
	tok, claims, err := token.Mint(key, token.MintOptions{
		Issuer:    opts.Issuer,
		Audience:  opts.Audience,
		Subject:   opts.Subject,
		SessionID: opts.SessionID,
		TTL:       opts.TTL,
		ID:        opts.ID,
		Chain:     opts.Chain,
		Return:    opts.Return,
		Extra:     extra,
		Now:       opts.f.Now,
	})
	if err != nil {
		return cmdutil.UsageError("", "%v", err)
	}
	if opts.TTL > token.DefaultMaxLifetime {
		fmt.Fprintf(opts.IO.ErrOut, "ssoctl: note: --ttl %s is over %s; receivers with the default maximum lifetime refuse this token\n", opts.TTL, token.DefaultMaxLifetime)
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.WriteJSON(opts.IO.Out, struct {
			SchemaVersion int           `json:"schema_version"`
			Token         string        `json:"token"`
			Alg           string        `json:"alg"`
			Kid           string        `json:"kid"`
			Claims        *token.Claims `json:"claims"`
			Expires       string        `json:"expires"`
			TTLSeconds    int64         `json:"ttl_seconds"`
		}{cmdutil.SchemaVersion, tok, string(key.Algorithm()), key.ID(), claims,
			claims.Expiry.UTC().Format(time.RFC3339), int64(claims.Lifetime() / time.Second)})
	}
	_, err = fmt.Fprintln(opts.IO.Out, tok)
	return err
}

var reservedHint = map[string]string{
	"iss": "use --iss", "aud": "use --aud", "sub": "use --sub", "sid": "use --sid",
	"jti": "use --jti", "chn": "use --chn", "ret": "use --ret",
	"iat": "iat is the time of minting; use --ttl for the lifetime",
	"exp": "exp is iat + --ttl",
	"nbf": "handoffs are valid from iat; nbf is not minted",
}

// parseClaimFlags turns --claim k=v (a string) and k:=JSON (any JSON value)
// into extra claims.
func parseClaimFlags(flags []string) (map[string]jsontext.Value, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]jsontext.Value{}
	for _, fl := range flags {
		name, value, ok := strings.Cut(fl, "=")
		if !ok || name == "" || name == ":" {
			return nil, cmdutil.UsageError("", "--claim %q: want k=v for a string or k:=JSON for any JSON value", fl)
		}
		var v jsontext.Value
		if n, isJSON := strings.CutSuffix(name, ":"); isJSON {
			name = n
			v = jsontext.Value(value)
			if !v.IsValid() {
				return nil, cmdutil.UsageError(`quote JSON strings: --claim 'name:="text"'`, "--claim %s: %q is not valid JSON", name, value)
			}
		} else {
			b, err := jsontext.AppendQuote(nil, value)
			if err != nil {
				return nil, cmdutil.UsageError("", "--claim %s: %v", name, err)
			}
			v = b
		}
		if token.IsReservedClaim(name) {
			return nil, cmdutil.UsageError(reservedHint[name], "--claim %s: %s is a claim of the handoff profile and has its own flag", name, name)
		}
		if _, dup := out[name]; dup {
			return nil, cmdutil.UsageError("", "--claim %s is given twice", name)
		}
		out[name] = v
	}
	return out, nil
}
