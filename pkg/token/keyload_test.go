package token_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/pkg/token"
)

func TestTrimOneNewline(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"no newline", "secret", "secret"},
		{"one LF, as echo leaves", "secret\n", "secret"},
		{"one CRLF, as a Windows editor leaves", "secret\r\n", "secret"},
		{"two LFs: only one goes", "secret\n\n", "secret\n"},
		{"two CRLFs: only one goes", "secret\r\n\r\n", "secret\r\n"},
		{"a lone CR is part of the secret", "secret\r", "secret\r"},
		{"trailing spaces are part of the secret", "secret  ", "secret  "},
		{"trailing tab is part of the secret", "secret\t", "secret\t"},
		{"space before the newline stays", "secret \n", "secret "},
		{"leading newline stays", "\nsecret", "\nsecret"},
		{"only a newline", "\n", ""},
		{"only CRLF", "\r\n", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(token.TrimOneNewline([]byte(tc.in))); got != tc.want {
				t.Errorf("TrimOneNewline(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		want    []byte
		wantErr string
	}{
		{name: "file from echo", path: write("echo", append(bytes.Clone(testHMACSecret), '\n')), want: testHMACSecret},
		{name: "file without newline", path: write("plain", testHMACSecret), want: testHMACSecret},
		{name: "binary secret with NUL and high bytes", path: write("bin", []byte("\x00\xff\xfe secret \x00\n")), want: []byte("\x00\xff\xfe secret \x00")},
		{name: "missing file", path: filepath.Join(dir, "nope"), wantErr: "no such file"},
		{name: "a file too large to be a secret", path: write("big", bytes.Repeat([]byte("x"), 1<<20+1)), wantErr: "it is not a key file"},
		{name: "a directory", path: dir, wantErr: "directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := token.ReadSecretFile(tc.path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ReadSecretFile = %q, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("ReadSecretFile = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// selfSigned is a test-only certificate for the given Ed25519 key.
// Ed25519 signatures are deterministic, so the certificate is too.
func selfSigned(t *testing.T, priv ed25519.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test-only issuer"},
		NotBefore:    testNow.AddDate(-1, 0, 0),
		NotAfter:     testNow.AddDate(1, 0, 0),
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("CERTIFICATE", der)
}

func TestParseKeysPEM(t *testing.T) {
	ed := testEd25519("one")
	es := testECDSA(t, elliptic.P256(), "one")
	p384 := testECDSA(t, elliptic.P384(), "one")
	rs := testRSA(t)
	x25519 := must(ecdh.X25519().NewPrivateKey(seed("x25519", 32)))

	tests := []struct {
		name    string
		data    []byte
		kid     string
		alg     token.Algorithm
		wantAlg token.Algorithm
		canSign bool
		wantErr string
	}{
		{name: "Ed25519 PKCS#8", data: pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ed))), wantAlg: token.EdDSA, canSign: true},
		{name: "Ed25519 PKIX public", data: pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(ed.Public()))), wantAlg: token.EdDSA},
		{name: "ECDSA PKCS#8", data: pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(es))), wantAlg: token.ES256, canSign: true},
		{name: "ECDSA SEC1", data: pemBlock("EC PRIVATE KEY", must(x509.MarshalECPrivateKey(es))), wantAlg: token.ES256, canSign: true},
		{name: "ECDSA SEC1 after EC PARAMETERS (openssl ecparam -genkey)", data: readTestdata(t, "test-only-p256-with-params.pem"), wantAlg: token.ES256, canSign: true},
		{name: "ECDSA PKIX public", data: pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&es.PublicKey))), wantAlg: token.ES256},
		{name: "RSA PKCS#8", data: readTestdata(t, "test-only-rsa2048.pem"), wantAlg: token.RS256, canSign: true},
		{name: "RSA PKCS#1 private", data: pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rs)), wantAlg: token.RS256, canSign: true},
		{name: "RSA PKCS#1 public", data: pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rs.PublicKey)), wantAlg: token.RS256},
		{name: "RSA PKIX public", data: pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&rs.PublicKey))), wantAlg: token.RS256},
		{name: "certificate", data: selfSigned(t, ed), wantAlg: token.EdDSA},
		{name: "surrounded by whitespace and text", data: append(append([]byte("\n\n  "), pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ed)))...), "\n\n"...), wantAlg: token.EdDSA, canSign: true},
		{name: "kid and matching alg given", data: pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(es))), kid: "es-2026", alg: token.ES256, wantAlg: token.ES256, canSign: true},

		{name: "encrypted PKCS#8 is refused", data: readTestdata(t, "test-only-ed25519-encrypted-pkcs8.pem"), wantErr: "the PEM key is encrypted; decrypt it first"},
		{name: "encrypted legacy PEM is refused", data: readTestdata(t, "test-only-rsa2048-encrypted-legacy.pem"), wantErr: "the PEM key is encrypted; decrypt it first"},
		{name: "RSA 1024", data: readTestdata(t, "test-only-rsa1024.pem"), wantErr: "RSA key is 1024 bits; RS256 needs at least 2048"},
		{name: "P-384", data: pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(p384))), wantErr: "ECDSA key is on P-384; ES256 needs P-256"},
		{name: "P-384 SEC1", data: pemBlock("EC PRIVATE KEY", must(x509.MarshalECPrivateKey(p384))), wantErr: "P-384"},
		{name: "X25519", data: pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(x25519))), wantErr: "unsupported key type"},
		{name: "--alg ES256 with an Ed25519 key", data: pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ed))), alg: token.ES256, wantErr: "this is an Ed25519 key; it signs EdDSA, not ES256"},
		{name: "--alg HS256 with an RSA public key", data: pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&rs.PublicKey))), alg: token.HS256, wantErr: "it signs RS256, not HS256"},
		{name: "path-like kid", data: pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ed))), kid: "../k", wantErr: "kid contains"},
		{name: "PKCS#1 body under a PKCS#8 label", data: pemBlock("PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rs)), wantErr: "PEM PRIVATE KEY block"},
		{name: "corrupt body", data: pemBlock("PUBLIC KEY", []byte("not DER")), wantErr: "PEM PUBLIC KEY block"},
		{name: "only a certificate request", data: pemBlock("CERTIFICATE REQUEST", []byte{0x30, 0}), wantErr: "no PEM key block found"},
		{name: "BEGIN line without a block", data: []byte("-----BEGIN PRIVATE KEY-----\nabc\n"), wantErr: "no PEM key block found"},
		{name: "a raw secret", data: testHMACSecret, wantErr: "raw HS256 secrets go in --secret-env or --secret-file"},
		{name: "empty", data: []byte(" \n"), wantErr: "key material is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := token.ParseKeys(tc.data, tc.kid, tc.alg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseKeys = %v, %v; want error containing %q", keys, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), string(testHMACSecret)) {
					t.Errorf("error repeats the key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 {
				t.Fatalf("got %d keys, want 1", len(keys))
			}
			k := keys[0]
			if k.Algorithm() != tc.wantAlg || k.CanSign() != tc.canSign {
				t.Errorf("key %v: alg %s can sign %v; want %s %v", k, k.Algorithm(), k.CanSign(), tc.wantAlg, tc.canSign)
			}
			wantKid := tc.kid
			if wantKid == "" {
				wantKid = must(token.Thumbprint(k.PublicKey()))
			}
			if k.ID() != wantKid {
				t.Errorf("kid %q, want %q", k.ID(), wantKid)
			}
		})
	}
}

func TestParseKeysJWK(t *testing.T) {
	edJWK := `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"%s}`
	// RFC 8037 A.1: the private key of the same pair.
	edPrivJWK := `{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"%s}`
	rfcThumb := "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	with := func(tmpl, extra string) []byte { return []byte(strings.Replace(tmpl, "%s", extra, 1)) }
	octJWK := func(secret []byte) []byte {
		return []byte(`{"kty":"oct","k":"` + b64.EncodeToString(secret) + `"}`)
	}

	tests := []struct {
		name    string
		data    []byte
		kid     string
		alg     token.Algorithm
		wantKid string
		wantAlg token.Algorithm
		canSign bool
		wantErr string
	}{
		{name: "public JWK, no kid: the thumbprint", data: with(edJWK, ""), wantKid: rfcThumb, wantAlg: token.EdDSA},
		{name: "public JWK with kid, alg and use", data: with(edJWK, `,"kid":"ed-2026","alg":"EdDSA","use":"sig"`), wantKid: "ed-2026", wantAlg: token.EdDSA},
		{name: "private JWK can sign", data: with(edPrivJWK, `,"kid":"ed-2026"`), wantKid: "ed-2026", wantAlg: token.EdDSA, canSign: true},
		{name: "kid given for a JWK without one", data: with(edJWK, ""), kid: "named", wantKid: "named", wantAlg: token.EdDSA},
		{name: "kid given equal to the JWK's", data: with(edJWK, `,"kid":"ed-2026"`), kid: "ed-2026", wantKid: "ed-2026", wantAlg: token.EdDSA},
		{name: "--alg matching the JWK's alg", data: with(edJWK, `,"alg":"EdDSA"`), alg: token.EdDSA, wantKid: rfcThumb, wantAlg: token.EdDSA},
		{name: "oct JWK of 43 bytes is an HS256 key", data: octJWK(testHMACSecret), kid: "hs1", wantKid: "hs1", wantAlg: token.HS256, canSign: true},

		{name: "kid given unlike the JWK's", data: with(edJWK, `,"kid":"ed-2026"`), kid: "other", wantErr: `the JWK says kid "ed-2026", not "other"`},
		{name: "path-like kid given", data: with(edJWK, ""), kid: "a/b", wantErr: "kid contains"},
		{name: "path-like kid in the JWK", data: with(edJWK, `,"kid":"../../k"`), wantErr: "kid contains"},
		{name: "use enc", data: with(edJWK, `,"kid":"e","use":"enc"`), wantErr: `JWK "e" has use "enc"; only signing keys (use "sig") verify tokens`},
		{name: "alg the profile does not support", data: with(edJWK, `,"kid":"e","alg":"ES512"`), wantErr: `unsupported algorithm "ES512"`},
		{name: "alg none in the JWK", data: with(edJWK, `,"kid":"e","alg":"none"`), wantErr: `unsupported algorithm "none"`},
		{name: "JWK alg unlike --alg", data: with(edJWK, `,"kid":"e","alg":"EdDSA"`), alg: token.ES256, wantErr: `JWK "e" is for EdDSA, not ES256`},
		{name: "JWK alg unlike its key type", data: with(edJWK, `,"kid":"e","alg":"RS256"`), wantErr: "it signs EdDSA, not RS256"},
		{name: "--alg unlike the key type", data: with(edJWK, ""), alg: token.RS256, wantErr: "it signs EdDSA, not RS256"},
		{name: "oct JWK shorter than 32 bytes", data: octJWK([]byte("short")), wantErr: "HS256 secret is 5 bytes"},
		{name: "unknown kty", data: []byte(`{"kty":"XYZ","kid":"x"}`), wantErr: "JWK"},
		{name: "truncated JSON", data: []byte(`{"kty":"OKP",`), wantErr: "not a JWK or JWK Set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := token.ParseKeys(tc.data, tc.kid, tc.alg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseKeys = %v, %v; want error containing %q", keys, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 {
				t.Fatalf("got %d keys", len(keys))
			}
			k := keys[0]
			if k.ID() != tc.wantKid || k.Algorithm() != tc.wantAlg || k.CanSign() != tc.canSign {
				t.Errorf("key kid %q alg %s can sign %v; want %q %s %v", k.ID(), k.Algorithm(), k.CanSign(), tc.wantKid, tc.wantAlg, tc.canSign)
			}
		})
	}
}
