package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	stdjson "encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// maxKeyFile bounds key files and JWKS documents; real ones are a few KiB.
const maxKeyFile = 1 << 20

// TrimOneNewline removes one trailing "\n" or "\r\n", the newline an editor
// or `echo` leaves at the end of a secret file. Nothing else is trimmed: a
// secret is its bytes exactly as given.
func TrimOneNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// ReadSecretFile reads an HS256 secret from path: its bytes as given, less
// one trailing newline.
func ReadSecretFile(path string) ([]byte, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	return TrimOneNewline(b), nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxKeyFile+1)); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if buf.Len() > maxKeyFile {
		return nil, fmt.Errorf("%s is over %d bytes; it is not a key file", path, maxKeyFile)
	}
	return buf.Bytes(), nil
}

// ParseKeys reads structured key material: PEM (PKCS#8, PKCS#1, SEC1 or PKIX
// keys, or a certificate), a single JWK, or a JWK Set. kid, when not empty,
// names the key (for a PEM) or selects it (from a JWKS); alg, when not empty,
// must fit the key. Raw HS256 secrets are not structured; use NewHMACKey.
func ParseKeys(data []byte, kid string, alg Algorithm) ([]*Key, error) {
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return nil, errors.New("key material is empty")
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		k, err := parsePEM(trimmed, kid, alg)
		if err != nil {
			return nil, err
		}
		return []*Key{k}, nil
	case trimmed[0] == '{':
		var probe struct {
			Keys jsontext.Value `json:"keys"`
		}
		if err := json.Unmarshal(trimmed, &probe, json.RejectUnknownMembers(false)); err != nil {
			return nil, fmt.Errorf("key material is not a JWK or JWK Set: %s", keyJSONDetail(err))
		}
		if probe.Keys != nil {
			keys, skipped, err := ParseJWKS(trimmed)
			if err != nil {
				return nil, err
			}
			return selectKeys(keys, skipped, kid, alg)
		}
		k, err := parseJWK(trimmed, alg)
		if err != nil {
			return nil, err
		}
		if kid != "" && kid != k.id {
			if k.fromJWKKid {
				return nil, fmt.Errorf("the JWK says kid %q, not %q", k.id, kid)
			}
			if err := checkKeyID(kid); err != nil {
				return nil, err
			}
			k.id = kid
		}
		return []*Key{k.Key}, nil
	}
	return nil, errors.New("key material is neither PEM nor JSON (JWK / JWK Set); raw HS256 secrets go in --secret-env or --secret-file")
}

func selectKeys(keys []*Key, skipped []string, kid string, alg Algorithm) ([]*Key, error) {
	var out []*Key
	for _, k := range keys {
		if (kid == "" || k.id == kid) && (alg == "" || k.alg == alg) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		msg := "no key in the JWK Set matches"
		if kid != "" {
			msg += fmt.Sprintf(" kid %q", kid)
		}
		if alg != "" {
			msg += fmt.Sprintf(" alg %s", alg)
		}
		if len(skipped) > 0 {
			msg += fmt.Sprintf(" (skipped: %s)", joinSkipped(skipped))
		}
		return nil, errors.New(msg)
	}
	return out, nil
}

func parsePEM(data []byte, kid string, alg Algorithm) (*Key, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM key block found (want PRIVATE KEY, PUBLIC KEY, EC PRIVATE KEY, RSA PRIVATE KEY or CERTIFICATE)")
		}
		if x509.IsEncryptedPEMBlock(block) || block.Type == "ENCRYPTED PRIVATE KEY" { //nolint:staticcheck // detecting, not decrypting
			return nil, errors.New("the PEM key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			continue // parameters, comments and other blocks around the key
		}
		if err != nil {
			return nil, fmt.Errorf("PEM %s block: %v", block.Type, err)
		}
		return NewKey(kid, alg, normalizeKey(key))
	}
}

// normalizeKey turns value forms into the pointer forms NewKey expects.
func normalizeKey(key any) any {
	switch k := key.(type) {
	case *ed25519.PrivateKey:
		return *k
	case *ed25519.PublicKey:
		return *k
	case ecdsa.PrivateKey:
		return &k
	case ecdsa.PublicKey:
		return &k
	case rsa.PrivateKey:
		return &k
	case rsa.PublicKey:
		return &k
	}
	return key
}

type jwkKey struct {
	*Key
	fromJWKKid bool
}

// parseJWK reads one JWK with go-jose. Its alg member, when present, must be
// one of the profile's and fit the key; use, when present, must be "sig".
func parseJWK(data []byte, alg Algorithm) (jwkKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return jwkKey{}, fmt.Errorf("JWK: %s", keyJSONDetail(err))
	}
	return fromJOSE(&jwk, alg)
}

func fromJOSE(jwk *jose.JSONWebKey, alg Algorithm) (jwkKey, error) {
	if jwk.Use != "" && jwk.Use != "sig" {
		return jwkKey{}, fmt.Errorf("JWK %q has use %q; only signing keys (use \"sig\") verify tokens", jwk.KeyID, jwk.Use)
	}
	if jwk.Algorithm != "" {
		a, err := ParseAlgorithm(jwk.Algorithm)
		if err != nil {
			return jwkKey{}, fmt.Errorf("JWK %q: %v", jwk.KeyID, err)
		}
		if alg != "" && alg != a {
			return jwkKey{}, fmt.Errorf("JWK %q is for %s, not %s", jwk.KeyID, a, alg)
		}
		alg = a
	}
	k, err := NewKey(jwk.KeyID, alg, normalizeKey(jwk.Key))
	if err != nil {
		if jwk.KeyID != "" {
			return jwkKey{}, fmt.Errorf("JWK %q: %v", jwk.KeyID, err)
		}
		return jwkKey{}, fmt.Errorf("JWK: %v", err)
	}
	return jwkKey{Key: k, fromJWKKid: jwk.KeyID != ""}, nil
}

// keyJSONDetail describes a JSON error in key material without quoting it:
// parsers' syntax errors name the offending character, and the file may be
// a secret passed to the wrong flag.
func keyJSONDetail(err error) string {
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return fmt.Sprintf("not valid JSON (error at byte %d)", syn.ByteOffset)
	}
	var v1 *stdjson.SyntaxError
	if errors.As(err, &v1) {
		return fmt.Sprintf("not valid JSON (error at byte %d)", v1.Offset)
	}
	return semanticDetail(err)
}

// ParseJWKS reads a JWK Set (RFC 7517 §5). Keys this profile cannot use
// (encryption keys, other curves, RSA below 2048 bits, unknown key types,
// shared secrets) are skipped and described in skipped rather than failing
// the set, since a provider's set often holds more than signing keys. It
// fails when no key is usable or two usable keys share a kid. A key without
// kid gets its thumbprint.
func ParseJWKS(data []byte) (keys []*Key, skipped []string, err error) {
	var set struct {
		Keys []jsontext.Value `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, nil, fmt.Errorf("JWK Set: %s", keyJSONDetail(err))
	}
	seen := map[string]bool{}
	for i, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		k, err := fromJOSE(&jwk, "")
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		if k.Symmetric() {
			// A secret in a set anyone can fetch is known to everyone:
			// a key verifying with it would accept forged tokens.
			skipped = append(skipped, fmt.Sprintf("key %d: JWK %q is a shared secret (kty oct); a JWK Set publishes public keys only", i, k.id))
			continue
		}
		if k.signer != nil {
			// A published set is for verification; never hold private
			// material taken from one.
			k.Key = k.Public()
		}
		if seen[k.id] {
			return nil, skipped, fmt.Errorf("JWK Set has two keys with kid %q", k.id)
		}
		seen[k.id] = true
		keys = append(keys, k.Key)
	}
	if len(keys) == 0 {
		if len(skipped) > 0 {
			return nil, skipped, fmt.Errorf("JWK Set has no usable signing key (%s)", joinSkipped(skipped))
		}
		return nil, nil, errors.New("JWK Set has no keys")
	}
	return keys, skipped, nil
}

func joinSkipped(skipped []string) string {
	if len(skipped) > 3 {
		return fmt.Sprintf("%s; %s; %s; and %d more", skipped[0], skipped[1], skipped[2], len(skipped)-3)
	}
	out := ""
	for i, s := range skipped {
		if i > 0 {
			out += "; "
		}
		out += s
	}
	return out
}

// MarshalJWKS publishes the public halves of keys as a JWK Set with kid, alg
// and use "sig" on each. HS256 keys have no public half and are refused.
func MarshalJWKS(keys ...*Key) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		if k.Symmetric() {
			return nil, fmt.Errorf("key %q is an HS256 secret; secrets are never published", k.id)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.public, KeyID: k.id, Algorithm: string(k.alg), Use: "sig"})
	}
	return jsonIndent(set)
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if err := (*jsontext.Value)(&b).Indent(); err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// MarshalPrivateKeyPEM encodes an asymmetric private key as PKCS#8 PEM.
func MarshalPrivateKeyPEM(k *Key) ([]byte, error) {
	if k.signer == nil {
		return nil, fmt.Errorf("key %q has no private half", k.id)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// GenerateKey makes a fresh key for alg: Ed25519, ECDSA P-256, RSA 3072, or
// for HS256 a secret of 32 random bytes in base64url (43 printable bytes, so
// it survives files, env vars and copy-paste unchanged). kid "" derives one.
func GenerateKey(alg Algorithm, kid string) (*Key, error) {
	var key any
	var err error
	switch alg {
	case HS256:
		var b [32]byte
		_, _ = rand.Read(b[:])
		return NewHMACKey(kid, []byte(base64.RawURLEncoding.EncodeToString(b[:])))
	case EdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	return NewKey(kid, alg, key)
}

// Secret returns an HS256 key's secret, for writing it to a file the
// operator asked for. Everything else keeps the secret inside the Key.
func (k *Key) Secret() []byte { return append([]byte(nil), k.secret...) }
