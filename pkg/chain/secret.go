package chain

import (
	"errors"
	"fmt"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// SecretRef says where a secret comes from: an environment variable or a
// file. An inline value is kept only in dev chains, and never in an exported
// field, so printing or marshalling a Chain cannot leak it.
type SecretRef struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`

	inline    string
	hasInline bool
}

// IsZero reports whether no secret is configured.
func (s SecretRef) IsZero() bool { return s.Env == "" && s.File == "" && !s.hasInline }

// IsInline reports whether the secret was written into the chain file
// (allowed with dev: true only).
func (s SecretRef) IsInline() bool { return s.hasInline }

// String describes where the secret comes from, never its value.
func (s SecretRef) String() string {
	switch {
	case s.Env != "":
		return "env " + s.Env
	case s.File != "":
		return "file " + s.File
	case s.hasInline:
		return "inline (redacted)"
	}
	return "none"
}

// source names where the secret comes from, for comparing two
// references without reading either: "env NAME", "file PATH", or "" for
// none and for inline values (which must not be compared in messages).
func (s SecretRef) source() string {
	switch {
	case s.Env != "" && s.File == "":
		return "env " + s.Env
	case s.File != "" && s.Env == "":
		return "file " + s.File
	}
	return ""
}

// GoString keeps %#v from printing an inline value.
func (s SecretRef) GoString() string { return "chain.SecretRef{" + s.String() + "}" }

// ErrSecretUnset is returned by Resolve when the configured source is empty
// or missing.
var ErrSecretUnset = errors.New("secret is not set")

// Resolve reads the secret. lookupEnv and readFile are os.LookupEnv and
// os.ReadFile outside tests. One trailing newline is dropped from a file, as
// editors and `echo` add one. Errors name the source, never the value.
func (s SecretRef) Resolve(lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) ([]byte, error) {
	switch {
	case s.Env != "":
		v, ok := lookupEnv(s.Env)
		if !ok || v == "" {
			return nil, fmt.Errorf("%w: environment variable %s is empty or unset; export it", ErrSecretUnset, s.Env)
		}
		return []byte(v), nil
	case s.File != "":
		b, err := readFile(s.File)
		if err != nil {
			return nil, fmt.Errorf("secret file: %w", err)
		}
		b = token.TrimOneNewline(b)
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: file %s is empty", ErrSecretUnset, s.File)
		}
		return b, nil
	case s.hasInline:
		if s.inline == "" {
			return nil, fmt.Errorf("%w: the inline value is empty", ErrSecretUnset)
		}
		return []byte(s.inline), nil
	}
	return nil, fmt.Errorf("%w: configure {env: NAME} or {file: PATH}", ErrSecretUnset)
}

// forgetInline drops an inline value, which a chain without dev: true must
// not keep.
func (s *SecretRef) forgetInline() { s.inline = "" }
