package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// Algorithm is a JWS "alg" value (RFC 7518 §3.1, RFC 8037 §3.1) that the
// handoff profile supports. "none" is deliberately not one of them.
type Algorithm string

// The supported algorithms. HS256 is the shared-secret seed design; the
// asymmetric ones let receivers verify with a published JWKS and hold no
// signing key.
const (
	HS256 Algorithm = "HS256"
	EdDSA Algorithm = "EdDSA"
	ES256 Algorithm = "ES256"
	RS256 Algorithm = "RS256"
)

// Symmetric reports whether every verifier must hold the signing key.
func (a Algorithm) Symmetric() bool { return a == HS256 }

// Algorithms lists the supported algorithms in the order help text shows them.
var Algorithms = []Algorithm{HS256, EdDSA, ES256, RS256}

// ParseAlgorithm maps a user-supplied name to an Algorithm. Matching is exact,
// as JWS alg values are case-sensitive (RFC 7515 §4.1.1).
func ParseAlgorithm(s string) (Algorithm, error) {
	for _, a := range Algorithms {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("unsupported algorithm %q (supported: HS256, EdDSA, ES256, RS256)", s)
}

// MinHMACSecret is the shortest HS256 secret accepted: RFC 7518 §3.2 requires
// a key at least as long as the hash output.
const MinHMACSecret = 32

// MinRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const MinRSABits = 2048

// Key is one signing or verification key with its kid and the single
// algorithm it is pinned to. Pinning the algorithm per key is what defeats
// algorithm confusion (RFC 8725 §2.1): a token's alg header only selects
// nothing; it must equal the key's.
//
// Key never prints its material: String, GoString, Format and LogValue show
// only the kid and algorithm. They have value receivers so that a Key value
// (a dereferenced *Key, a struct field) is redacted too.
type Key struct {
	id     string
	alg    Algorithm
	secret []byte           // HS256 only
	signer crypto.Signer    // asymmetric private key, nil for verify-only keys
	public crypto.PublicKey // asymmetric public key
}

// ID returns the key's kid.
func (k *Key) ID() string { return k.id }

// Algorithm returns the one algorithm this key signs and verifies with.
func (k *Key) Algorithm() Algorithm { return k.alg }

// CanSign reports whether the key holds private (or secret) material.
func (k *Key) CanSign() bool { return k.secret != nil || k.signer != nil }

// Symmetric reports whether the key is a shared secret (HS256).
func (k *Key) Symmetric() bool { return k.alg == HS256 }

// PublicKey returns the asymmetric public key, or nil for HS256.
func (k *Key) PublicKey() crypto.PublicKey { return k.public }

// PrivateKey returns the asymmetric private key, or nil.
func (k *Key) PrivateKey() crypto.Signer { return k.signer }

// Public returns a verify-only copy of an asymmetric key. For HS256 there is
// no public half; it returns nil.
func (k *Key) Public() *Key {
	if k.Symmetric() {
		return nil
	}
	return &Key{id: k.id, alg: k.alg, public: k.public}
}

func (k Key) String() string {
	kind := "public"
	switch {
	case k.Symmetric():
		kind = "secret"
	case k.signer != nil:
		kind = "private"
	}
	return fmt.Sprintf("%s %s key kid=%q", k.alg, kind, k.id)
}

// GoString keeps %#v from dumping key material.
func (k Key) GoString() string { return "token.Key{" + k.String() + "}" }

// Format keeps every fmt verb on the redacted form.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue keeps slog from reflecting into the key.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// NewHMACKey returns an HS256 key over secret, which is used exactly as given
// (no decoding, no trimming). An empty kid gets DeriveHMACKeyID(secret).
func NewHMACKey(kid string, secret []byte) (*Key, error) {
	if len(secret) < MinHMACSecret {
		return nil, fmt.Errorf("HS256 secret is %d bytes; it must be at least %d (RFC 7518 §3.2)", len(secret), MinHMACSecret)
	}
	if kid == "" {
		kid = DeriveHMACKeyID(secret)
	} else if err := checkKeyID(kid); err != nil {
		return nil, err
	}
	return &Key{id: kid, alg: HS256, secret: append([]byte(nil), secret...)}, nil
}

// DeriveHMACKeyID names a secret without revealing it: the first 16
// characters of base64url(HMAC-SHA256(secret, "ssoctl kid v1")). Minter and
// verifier that share a secret agree on the kid without configuring one, and
// a rotated secret gets a different kid.
func DeriveHMACKeyID(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("ssoctl kid v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:16]
}

// NewKey wraps a Go crypto key: ed25519.PrivateKey/PublicKey,
// *ecdsa.PrivateKey/PublicKey (P-256), *rsa.PrivateKey/PublicKey (≥ 2048
// bits), or []byte for HS256. alg "" infers the algorithm from the key type;
// a non-empty alg must fit the key. An empty kid gets the RFC 7638 JWK
// thumbprint of the public key (DeriveHMACKeyID for secrets).
func NewKey(kid string, alg Algorithm, key any) (*Key, error) {
	if secret, ok := key.([]byte); ok {
		if alg != "" && alg != HS256 {
			return nil, fmt.Errorf("a shared secret signs HS256, not %s", alg)
		}
		return NewHMACKey(kid, secret)
	}
	k := &Key{}
	switch key := key.(type) {
	case ed25519.PrivateKey:
		k.alg, k.signer, k.public = EdDSA, key, key.Public()
	case ed25519.PublicKey:
		k.alg, k.public = EdDSA, key
	case *ecdsa.PrivateKey:
		k.alg, k.signer, k.public = ES256, key, key.Public()
	case *ecdsa.PublicKey:
		k.alg, k.public = ES256, key
	case *rsa.PrivateKey:
		k.alg, k.signer, k.public = RS256, key, key.Public()
	case *rsa.PublicKey:
		k.alg, k.public = RS256, key
	default:
		return nil, fmt.Errorf("unsupported key type %T (want Ed25519, ECDSA P-256, RSA or an HS256 secret)", key)
	}
	if err := checkStrength(k.public); err != nil {
		return nil, err
	}
	if alg != "" && alg != k.alg {
		return nil, fmt.Errorf("this is %s; it signs %s, not %s", describeKey(k.public), k.alg, alg)
	}
	if kid == "" {
		id, err := Thumbprint(k.public)
		if err != nil {
			return nil, err
		}
		kid = id
	} else if err := checkKeyID(kid); err != nil {
		return nil, err
	}
	k.id = kid
	return k, nil
}

func checkStrength(pub crypto.PublicKey) error {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return fmt.Errorf("ECDSA key is on %s; ES256 needs P-256", pub.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < MinRSABits {
			return fmt.Errorf("RSA key is %d bits; RS256 needs at least %d (RFC 7518 §3.3)", bits, MinRSABits)
		}
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return errors.New("Ed25519 public key has the wrong length")
		}
	}
	return nil
}

func describeKey(pub crypto.PublicKey) string {
	switch pub.(type) {
	case ed25519.PublicKey:
		return "an Ed25519 key"
	case *ecdsa.PublicKey:
		return "an ECDSA P-256 key"
	case *rsa.PublicKey:
		return "an RSA key"
	}
	return fmt.Sprintf("a %T", pub)
}

// Thumbprint returns the RFC 7638 SHA-256 JWK thumbprint of a public key,
// base64url without padding: the conventional default kid.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("computing JWK thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// checkKeyID refuses kids that could be abused where a kid selects a file,
// URL, SQL row or cache key (RFC 8725 §3.10): only plain names of at most
// 128 characters from a conservative set, and never "..".
func checkKeyID(kid string) error {
	if kid == "" {
		return errors.New("kid is empty")
	}
	if len(kid) > 128 {
		return fmt.Errorf("kid is %d characters; at most 128 are allowed", len(kid))
	}
	for i, r := range kid {
		if r >= utf8.RuneSelf || r == utf8.RuneError {
			return fmt.Errorf("kid contains %q at byte %d; only letters, digits and - _ . : + = @ # ~ are allowed", r, i)
		}
		c := byte(r)
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '=', c == '@', c == '#', c == '~':
		default:
			return fmt.Errorf("kid contains %q at byte %d; only letters, digits and - _ . : + = @ # ~ are allowed", r, i)
		}
	}
	if containsDotDot(kid) {
		return errors.New(`kid contains ".."`)
	}
	return nil
}

func containsDotDot(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '.' && s[i+1] == '.' {
			return true
		}
	}
	return false
}

// method returns golang-jwt's implementation of the key's algorithm; the
// signature maths is that library's, ssoctl only decides which one applies.
func (k *Key) method() jwt.SigningMethod {
	switch k.alg {
	case HS256:
		return jwt.SigningMethodHS256
	case EdDSA:
		return jwt.SigningMethodEdDSA
	case ES256:
		return jwt.SigningMethodES256
	case RS256:
		return jwt.SigningMethodRS256
	}
	return nil
}

func (k *Key) verifyKey() any {
	if k.secret != nil {
		return k.secret
	}
	return k.public
}

func (k *Key) signKey() any {
	if k.secret != nil {
		return k.secret
	}
	return k.signer
}

// sign returns the raw signature over signingInput.
func (k *Key) sign(signingInput string) ([]byte, error) {
	if !k.CanSign() {
		return nil, fmt.Errorf("key %q is a public key and cannot sign; pass the private key", k.id)
	}
	return k.method().Sign(signingInput, k.signKey())
}

// verify checks a raw signature over signingInput.
func (k *Key) verify(signingInput string, sig []byte) bool {
	return k.method().Verify(signingInput, sig, k.verifyKey()) == nil
}
