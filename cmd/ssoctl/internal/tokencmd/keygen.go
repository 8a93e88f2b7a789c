package tokencmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// KeygenOptions are the inputs of `token keygen`.
type KeygenOptions struct {
	IO    *cmdutil.IOStreams
	Alg   string
	Out   string
	Kid   string
	Force bool

	f *cmdutil.Factory
}

// NewCmdKeygen returns `token keygen`. runF replaces keygenRun in tests.
func NewCmdKeygen(f *cmdutil.Factory, runF func(*KeygenOptions) error) *cobra.Command {
	opts := &KeygenOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "keygen --alg EdDSA|ES256|RS256|HS256 --out DIR",
		Short: "Make a signing key pair or an HS256 secret",
		Long: `Make a key for a chain, so nobody needs openssl to try one.

Asymmetric (EdDSA, ES256, RS256): writes DIR/private.pem (PKCS#8, mode 0600),
which only the issuer holds, and DIR/jwks.json (the public key with kid, alg and
use "sig"), which receivers verify with or the issuer publishes at
/.well-known/jwks.json. EdDSA (Ed25519) is small and fast: a good default.

HS256: writes DIR/secret (mode 0600): 32 random bytes as 43 base64url characters,
used exactly as written. Issuer and every receiver share it; never publish it.

Existing files are never overwritten unless --force is given. No key material is
printed.`,
		Example: `  ssoctl token keygen --alg EdDSA --out keys
  ssoctl token mint --key-file keys/private.pem --iss https://accounts.example.com --aud portal --sub u1 --sid s1 |
    ssoctl token verify - --jwks-file keys/jwks.json --iss https://accounts.example.com --aud portal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return keygenRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Alg, "alg", "", "EdDSA, ES256, RS256 or HS256 (required)")
	fl.StringVar(&opts.Out, "out", "", "directory to write the key files into; created if missing (required)")
	fl.StringVar(&opts.Kid, "kid", "", "key id in jwks.json (default: the RFC 7638 thumbprint of the public key); mint --key-file DIR/private.pem picks it up from DIR/jwks.json")
	fl.BoolVar(&opts.Force, "force", false, "overwrite existing key files")
	return cmd
}

type keyFileView struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
	Mode string `json:"mode"`
}

func keygenRun(opts *KeygenOptions) error {
	format, err := opts.f.OutputFormat()
	if err != nil {
		return err
	}
	if opts.Alg == "" {
		return cmdutil.UsageError("EdDSA is a good default: --alg EdDSA", "--alg is required: EdDSA, ES256, RS256 or HS256")
	}
	alg, err := token.ParseAlgorithm(opts.Alg)
	if err != nil {
		return cmdutil.UsageError("EdDSA is a good default: --alg EdDSA", "--alg: %v", err)
	}
	if opts.Out == "" {
		return cmdutil.UsageError("", "--out DIR is required: the directory to write the key files into")
	}
	if alg == token.HS256 && opts.Kid != "" {
		return cmdutil.UsageError("pass --kid to 'token mint' and 'token verify' instead", "--kid does not apply to HS256: the secret file holds only the secret")
	}
	key, err := token.GenerateKey(alg, opts.Kid)
	if err != nil {
		return cmdutil.UsageError("", "%v", err)
	}
	type file struct {
		name, kind string
		data       []byte
		mode       os.FileMode
	}
	var files []file
	if alg == token.HS256 {
		files = append(files, file{"secret", "HS256 shared secret", append(key.Secret(), '\n'), 0o600})
	} else {
		priv, err := token.MarshalPrivateKeyPEM(key)
		if err != nil {
			return err
		}
		pub, err := token.MarshalJWKS(key)
		if err != nil {
			return err
		}
		files = append(files,
			file{"private.pem", string(alg) + " private key (PKCS#8)", priv, 0o600},
			file{"jwks.json", "public JWK Set", pub, 0o644})
	}
	if err := os.MkdirAll(opts.Out, 0o700); err != nil {
		return cmdutil.UsageError("", "--out: %v", err)
	}
	if !opts.Force {
		for _, fl := range files {
			p := filepath.Join(opts.Out, fl.name)
			if _, err := os.Lstat(p); err == nil {
				return cmdutil.UsageError("pick another --out, or pass --force to replace the key (tokens signed with the old key stop verifying)", "%s already exists", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return cmdutil.UsageError("", "%v", err)
			}
		}
	}
	var written []keyFileView
	for _, fl := range files {
		p := filepath.Join(opts.Out, fl.name)
		if err := writeFileMode(p, fl.data, fl.mode, opts.Force); err != nil {
			return cmdutil.UsageError("", "writing %s: %v", p, err)
		}
		written = append(written, keyFileView{Path: p, Kind: fl.kind, Mode: fmt.Sprintf("%04o", fl.mode)})
	}
	if format == cmdutil.FormatJSON {
		return cmdutil.WriteJSON(opts.IO.Out, struct {
			SchemaVersion int           `json:"schema_version"`
			Alg           string        `json:"alg"`
			Kid           string        `json:"kid"`
			Files         []keyFileView `json:"files"`
		}{cmdutil.SchemaVersion, string(alg), key.ID(), written})
	}
	st := cmdutil.NewStyles(opts.IO.Out, opts.IO.ColorEnabled())
	w := opts.IO.Out
	fmt.Fprintf(w, "%s %s key, kid %q\n", st.Good.Render("Generated"), alg, key.ID())
	for _, v := range written {
		fmt.Fprintf(w, "  %s  %s, mode %s\n", v.Path, v.Kind, v.Mode)
	}
	iss := "https://accounts.example.com"
	fmt.Fprintln(w)
	fmt.Fprintln(w, st.Heading.Render("Try it"))
	if alg == token.HS256 {
		sf := shellQuote(filepath.Join(opts.Out, "secret"))
		fmt.Fprintf(w, "  ssoctl token mint --secret-file %s --iss %s --aud portal --sub u1 --sid s1 |\n", sf, iss)
		fmt.Fprintf(w, "    ssoctl token verify - --secret-file %s --iss %s --aud portal\n", sf, iss)
		fmt.Fprintln(w, st.Dim.Render("  Give the secret to the issuer and every receiver; never publish it."))
		return nil
	}
	// private.pem carries no kid; mint takes it from the jwks.json beside it.
	fmt.Fprintf(w, "  ssoctl token mint --key-file %s --iss %s --aud portal --sub u1 --sid s1 |\n", shellQuote(filepath.Join(opts.Out, "private.pem")), iss)
	fmt.Fprintf(w, "    ssoctl token verify - --jwks-file %s --iss %s --aud portal\n", shellQuote(filepath.Join(opts.Out, "jwks.json")), iss)
	fmt.Fprintln(w, st.Dim.Render("  Keep private.pem on the issuer only; receivers need just jwks.json."))
	return nil
}

// writeFileMode writes data with exactly mode, whatever the umask, and
// never follows a symlink planted where the key goes.
func writeFileMode(path string, data []byte, mode os.FileMode, replace bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if replace {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	f, err := os.OpenFile(path, flags, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
