package tokencmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// DecodeOptions are the inputs of `token decode`.
type DecodeOptions struct {
	IO   *cmdutil.IOStreams
	Args []string

	f *cmdutil.Factory
}

// NewCmdDecode returns `token decode`. runF replaces decodeRun in tests.
func NewCmdDecode(f *cmdutil.Factory, runF func(*DecodeOptions) error) *cobra.Command {
	opts := &DecodeOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "decode [TOKEN | URL | -]",
		Short: "Show what a token says, without a key",
		Long: `Show the header and claims of a handoff token (or any JWT) without verifying it.

The input is a bare token, a whole redirect URL (the token is found in the query
or the fragment), or, from stdin, a form_post body or the interstitial page that
carries one. Times are shown relative to now ("expires in 23s", "expired 3m ago").

Nothing decode shows is trusted: anyone can write a token that says anything.
It warns about what makes a token risky or unacceptable as a handoff (alg none,
key-bearing headers, no typ, no aud, no jti, a lifetime over 30s, duplicate JSON
members) and never fails because a token is expired. Use 'ssoctl token verify'
to check the signature and claims.

An ID token or JWT access token (typ JWT or at+jwt, or none, with OIDC claims) is
shown as one: which kind it looks like, its OIDC claims (azp, auth_time, acr,
amr, email, client_id, scope; a nonce only as present), and warnings that fit it.

Exit status: 0 when a token was decoded (warnings or not), 1 when the input holds
no readable token, 2 on usage errors.`,
		Example: `  ssoctl token decode eyJhbGciOiJIUzI1NiIs...
  ssoctl token decode 'https://portal.example.org/sso?token=eyJhbGciOi...'
  curl -s https://accounts.example.com/sso/continue | ssoctl token decode -
  ssoctl token decode -o json "$TOKEN" | jq .claims`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if runF != nil {
				return runF(opts)
			}
			return decodeRun(opts)
		},
	}
	return cmd
}

type decodeView struct {
	SchemaVersion int    `json:"schema_version"`
	Verified      bool   `json:"verified"`
	FoundIn       string `json:"found_in"`
	Kind          string `json:"kind,omitempty"`     // set for ID and access tokens
	KindWhy       string `json:"kind_why,omitempty"` // what made it look like one
	tokenView
	OIDC     *oidcView    `json:"oidc,omitempty"`
	Warnings []reasonView `json:"warnings"`
}

func decodeRun(opts *DecodeOptions) error {
	format, err := opts.f.OutputFormat()
	if err != nil {
		return err
	}
	in, err := readTokenInput(opts.f, opts.Args)
	if err != nil {
		return err
	}
	now := opts.f.Now()
	insp, err := token.Inspect(in.Token, now)
	if err != nil {
		var inv *token.InvalidError
		if errors.As(err, &inv) && len(inv.Failures) > 0 {
			return cmdutil.FailedError("decode takes a compact JWT: three base64url parts separated by dots", "cannot decode the token from %s: %s: %s", in.Where, inv.Failures[0].Reason.Code, inv.Failures[0].Error())
		}
		return cmdutil.FailedError("", "cannot decode the token from %s: %v", in.Where, err)
	}
	if in.Extra > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "ssoctl: note: %d more token(s) found in the input; decoding the first, from %s\n", in.Extra, in.Where)
	}
	if kind, _ := token.KindOf(insp.Token); kind == token.KindIDToken || kind == token.KindAccessToken {
		oi, err := token.InspectOIDC(in.Token, now, kind)
		if err != nil {
			return cmdutil.FailedError("", "cannot decode the token from %s: %v", in.Where, err)
		}
		return decodeOIDC(opts, format, in, oi, now)
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.WriteJSON(opts.IO.Out, decodeView{
			SchemaVersion: cmdutil.SchemaVersion,
			FoundIn:       in.Where,
			tokenView:     newTokenView(insp.Token, now),
			Warnings:      reasonViews(insp.Warnings),
		})
	}
	st := cmdutil.NewStyles(opts.IO.Out, opts.IO.ColorEnabled())
	w := opts.IO.Out
	fmt.Fprintf(w, "%s  %s\n", st.Warn.Render("UNVERIFIED"), st.Dim.Render("decoded without a key: nothing below is trusted; check it with 'ssoctl token verify'"))
	fmt.Fprintf(w, "%s  %s\n\n", st.Label.Render("found in"), cmdutil.Printable(in.Where))
	printToken(w, st, insp.Token, now)
	fmt.Fprintln(w)
	if len(insp.Warnings) == 0 {
		fmt.Fprintf(w, "%s  %s\n", st.Heading.Render("Warnings"), st.Dim.Render("none for a handoff token"))
		return nil
	}
	fmt.Fprintln(w, st.Heading.Render("Warnings"))
	printReasons(w, st, insp.Warnings, "!", st.Warn.Render)
	return nil
}
