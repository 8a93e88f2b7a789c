package chain

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }

func TestSecretRefResolve(t *testing.T) {
	env := map[string]string{"SSO_SECRET": "from-env", "EMPTY": ""}
	lookupEnv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	files := map[string]string{"/s": "from-file\n", "/crlf": "x\r\n", "/empty": "\n"}
	readFile := func(p string) ([]byte, error) {
		if v, ok := files[p]; ok {
			return []byte(v), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	inline := SecretRef{inline: "inline-value", hasInline: true}
	tests := []struct {
		name    string
		ref     SecretRef
		want    string
		wantErr error
	}{
		{name: "env", ref: SecretRef{Env: "SSO_SECRET"}, want: "from-env"},
		{name: "unset env", ref: SecretRef{Env: "NOPE"}, wantErr: ErrSecretUnset},
		{name: "empty env", ref: SecretRef{Env: "EMPTY"}, wantErr: ErrSecretUnset},
		{name: "file drops one newline", ref: SecretRef{File: "/s"}, want: "from-file"},
		{name: "file drops CRLF", ref: SecretRef{File: "/crlf"}, want: "x"},
		{name: "empty file", ref: SecretRef{File: "/empty"}, wantErr: ErrSecretUnset},
		{name: "missing file", ref: SecretRef{File: "/missing"}, wantErr: fs.ErrNotExist},
		{name: "inline", ref: inline, want: "inline-value"},
		{name: "nothing", ref: SecretRef{}, wantErr: ErrSecretUnset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ref.Resolve(lookupEnv, readFile)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("Resolve() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSecretRefNeverPrintsInlineValue(t *testing.T) {
	s := SecretRef{inline: "hunter2", hasInline: true}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if got := fmt.Sprintf(format, s); strings.Contains(got, "hunter2") || strings.Contains(got, fmt.Sprintf("%x", "hunter2")) {
			t.Errorf("Sprintf(%q) = %q, prints the secret", format, got)
		}
	}
	if got := s.String(); got != "inline (redacted)" {
		t.Errorf("String() = %q", got)
	}
}
