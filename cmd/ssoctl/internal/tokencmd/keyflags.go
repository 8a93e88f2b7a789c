package tokencmd

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// keyFlags are the ways a key reaches mint and verify. None of them takes
// key material inline: secrets come from the environment, a file or stdin.
type keyFlags struct {
	SecretEnv  string
	SecretFile string
	KeyFile    string
	JWKSURL    string
	JWKSFile   string
	Kid        string
	Alg        string

	verify bool // verify also takes --jwks-url and --jwks-file
}

const secretHint = "make one with 'ssoctl token keygen --alg HS256 --out DIR' or 'head -c 32 /dev/urandom | base64'"

func (k *keyFlags) register(fs *pflag.FlagSet, verify bool) {
	k.verify = verify
	fs.StringVar(&k.SecretEnv, "secret-env", "", "read the HS256 secret from environment variable `NAME`")
	fs.StringVar(&k.SecretFile, "secret-file", "", "read the HS256 secret from `PATH` (- for stdin; one trailing newline is dropped)")
	if verify {
		fs.StringVar(&k.KeyFile, "key-file", "", "verify with the key in `PATH`: PEM (public or private), JWK or JWK Set (- for stdin)")
		fs.StringVar(&k.JWKSURL, "jwks-url", "", "verify with the issuer's published JWK Set at `URL` (https; http only on loopback)")
		fs.StringVar(&k.JWKSFile, "jwks-file", "", "verify with the JWK Set in `PATH`, e.g. jwks.json from 'token keygen'")
		fs.StringVar(&k.Kid, "kid", "", "kid of the key given by --secret-* or a PEM (default: derived from the key)")
	} else {
		fs.StringVar(&k.KeyFile, "key-file", "", "sign with the private key in `PATH`: PEM (PKCS#8, SEC1, PKCS#1) or a private JWK (- for stdin)")
		fs.StringVar(&k.Kid, "kid", "", "kid to put in the header (default: the JWK's own, or for a PEM the kid a jwks.json beside it publishes for the same key, else its RFC 7638 thumbprint)")
	}
	fs.StringVar(&k.Alg, "alg", "", "pin the algorithm: HS256, EdDSA, ES256 or RS256 (default: the key's own)")
}

func (k *keyFlags) sources() []string {
	var set []string
	for _, s := range []struct{ flag, value string }{
		{"--secret-env", k.SecretEnv}, {"--secret-file", k.SecretFile}, {"--key-file", k.KeyFile},
		{"--jwks-url", k.JWKSURL}, {"--jwks-file", k.JWKSFile},
	} {
		if s.value != "" {
			set = append(set, s.flag)
		}
	}
	return set
}

// readsStdin reports whether a key flag takes "-".
func (k *keyFlags) readsStdin() bool {
	return k.SecretFile == "-" || k.KeyFile == "-" || k.JWKSFile == "-"
}

func (k *keyFlags) algorithm() (token.Algorithm, error) {
	if k.Alg == "" {
		return "", nil
	}
	a, err := token.ParseAlgorithm(k.Alg)
	if err != nil {
		return "", cmdutil.UsageError("leave --alg out to use the key's own algorithm", "--alg: %v", err)
	}
	return a, nil
}

func (k *keyFlags) one() error {
	switch set := k.sources(); len(set) {
	case 0:
		if k.verify {
			return cmdutil.UsageError(secretHint, "no key: give one of --secret-env NAME, --secret-file PATH, --key-file PATH, --jwks-url URL or --jwks-file PATH")
		}
		return cmdutil.UsageError(secretHint, "no signing key: give one of --secret-env NAME, --secret-file PATH or --key-file PATH")
	case 1:
		return nil
	default:
		return cmdutil.UsageError("keep the one key this command should use and drop the other flag", "%s cannot be combined; give one key source", strings.Join(set, " and "))
	}
}

// secret reads an HS256 secret from --secret-env or --secret-file.
func (k *keyFlags) secret(f *cmdutil.Factory) ([]byte, string, error) {
	if k.SecretEnv != "" {
		v, ok := f.LookupEnv(k.SecretEnv)
		if !ok || v == "" {
			return nil, "", cmdutil.UsageError(secretHint, "environment variable %s is not set or empty", k.SecretEnv)
		}
		return []byte(v), "$" + k.SecretEnv, nil
	}
	if k.SecretFile == "-" {
		b, err := readAllLimited(f.IO.In, "stdin")
		if err != nil {
			return nil, "", err
		}
		return token.TrimOneNewline(b), "stdin", nil
	}
	b, err := token.ReadSecretFile(k.SecretFile)
	if err != nil {
		return nil, "", cmdutil.UsageError("", "--secret-file: %v", err)
	}
	return b, k.SecretFile, nil
}

func (k *keyFlags) hmacKey(f *cmdutil.Factory, alg token.Algorithm) (*token.Key, error) {
	if alg != "" && alg != token.HS256 {
		return nil, cmdutil.UsageError("use --key-file for "+string(alg)+" keys", "--alg %s does not fit a shared secret; secrets sign HS256", alg)
	}
	secret, from, err := k.secret(f)
	if err != nil {
		return nil, err
	}
	key, err := token.NewHMACKey(k.Kid, secret)
	if err != nil {
		return nil, cmdutil.UsageError(secretHint, "secret from %s: %v", from, err)
	}
	return key, nil
}

func (k *keyFlags) readKeyFile(f *cmdutil.Factory, flag, path string) ([]byte, error) {
	if path == "-" {
		return readAllLimited(f.IO.In, "stdin")
	}
	b, err := readFileLimited(path)
	if err != nil {
		return nil, cmdutil.UsageError("", "%s: %v", flag, err)
	}
	return b, nil
}

// signingKey returns the key mint signs with.
func (k *keyFlags) signingKey(f *cmdutil.Factory) (*token.Key, error) {
	if err := k.one(); err != nil {
		return nil, err
	}
	alg, err := k.algorithm()
	if err != nil {
		return nil, err
	}
	if k.KeyFile == "" {
		return k.hmacKey(f, alg)
	}
	data, err := k.readKeyFile(f, "--key-file", k.KeyFile)
	if err != nil {
		return nil, err
	}
	keys, err := token.ParseKeys(data, k.Kid, alg)
	if err != nil {
		return nil, cmdutil.UsageError("", "--key-file %s: %v", k.KeyFile, err)
	}
	var signers []*token.Key
	for _, key := range keys {
		if key.CanSign() {
			signers = append(signers, key)
		}
	}
	switch {
	case len(signers) == 1:
		if k.Kid == "" && k.KeyFile != "-" {
			return publishedKid(signers[0], k.KeyFile), nil
		}
		return signers[0], nil
	case len(signers) == 0:
		return nil, cmdutil.UsageError("mint with the private key (private.pem from 'token keygen', or a single private JWK); public keys and JWK Sets are for verify", "--key-file %s holds no private key", k.KeyFile)
	default:
		return nil, cmdutil.UsageError("pick one with --kid", "--key-file %s holds %d private keys", k.KeyFile, len(signers))
	}
}

// publishedKid names a PEM key by the kid it is published under in a
// jwks.json beside it, as 'token keygen --out DIR' leaves them: a PEM holds
// no kid, and without this a key made with 'keygen --kid' would mint under
// its thumbprint and fail verification against its own jwks.json. Only the
// same public key counts, so an unrelated jwks.json changes nothing.
func publishedKid(key *token.Key, keyFile string) *token.Key {
	pub := key.PublicKey()
	if pub == nil {
		return key
	}
	thumb, err := token.Thumbprint(pub)
	if err != nil || key.ID() != thumb {
		return key // the key file named its own kid (a JWK)
	}
	data, err := readFileLimited(filepath.Join(filepath.Dir(keyFile), "jwks.json"))
	if err != nil {
		return key
	}
	published, _, err := token.ParseJWKS(data)
	if err != nil {
		return key
	}
	for _, p := range published {
		if t, err := token.Thumbprint(p.PublicKey()); err == nil && t == thumb && p.ID() != key.ID() {
			if named, err := token.NewKey(p.ID(), key.Algorithm(), key.PrivateKey()); err == nil {
				return named
			}
		}
	}
	return key
}

// keySource returns what verify checks signatures with.
func (k *keyFlags) keySource(f *cmdutil.Factory) (token.KeySource, []string, error) {
	if err := k.one(); err != nil {
		return nil, nil, err
	}
	alg, err := k.algorithm()
	if err != nil {
		return nil, nil, err
	}
	var keys []*token.Key
	var notes []string
	switch {
	case k.SecretEnv != "" || k.SecretFile != "":
		key, err := k.hmacKey(f, alg)
		if err != nil {
			return nil, nil, err
		}
		keys = []*token.Key{key}
	case k.JWKSURL != "":
		if k.Kid != "" {
			return nil, nil, cmdutil.UsageError("", "--kid does not apply to --jwks-url; the token's kid selects the key")
		}
		src, err := token.NewRemoteJWKS(k.JWKSURL, token.WithHTTPClient(f.HTTPClient()))
		if err != nil {
			return nil, nil, cmdutil.UsageError("", "--jwks-url: %v", err)
		}
		return src, nil, nil
	case k.JWKSFile != "":
		if k.Kid != "" {
			return nil, nil, cmdutil.UsageError("", "--kid does not apply to --jwks-file; the token's kid selects the key")
		}
		data, err := k.readKeyFile(f, "--jwks-file", k.JWKSFile)
		if err != nil {
			return nil, nil, err
		}
		var skipped []string
		keys, skipped, err = token.ParseJWKS(data)
		if err != nil {
			return nil, nil, cmdutil.UsageError("", "--jwks-file %s: %v", k.JWKSFile, err)
		}
		for _, s := range skipped {
			notes = append(notes, "skipped a key in "+k.JWKSFile+": "+s)
		}
	default:
		data, err := k.readKeyFile(f, "--key-file", k.KeyFile)
		if err != nil {
			return nil, nil, err
		}
		keys, err = token.ParseKeys(data, k.Kid, alg)
		if err != nil {
			return nil, nil, cmdutil.UsageError("", "--key-file %s: %v", k.KeyFile, err)
		}
		for i, key := range keys {
			if pub := key.Public(); pub != nil {
				keys[i] = pub // verify needs only the public half
			}
		}
	}
	if alg != "" {
		for _, key := range keys {
			if key.Algorithm() != alg {
				return nil, nil, cmdutil.UsageError("", "--alg %s does not fit key %q, which is pinned to %s", alg, key.ID(), key.Algorithm())
			}
		}
	}
	ring, err := token.NewKeyRing(keys...)
	if err != nil {
		return nil, nil, cmdutil.UsageError("", "%v", err)
	}
	return ring, notes, nil
}

const maxInput = 1 << 20

func readAllLimited(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, cmdutil.UsageError("", "reading %s: %v", what, err)
	}
	if len(b) > maxInput {
		return nil, cmdutil.UsageError("", "%s is over %d bytes", what, maxInput)
	}
	return b, nil
}

func readFileLimited(path string) ([]byte, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s is over %d bytes", path, maxInput)
	}
	return b, nil
}
