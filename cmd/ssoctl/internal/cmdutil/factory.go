package cmdutil

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Output formats. text is the default; trace adds junit and mermaid.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// SchemaVersion is the version of every -o json document's shape. It goes up
// only when a field changes meaning or disappears; new fields do not bump it.
const SchemaVersion = 1

// Factory is what commands get from the root: streams, environment, clock
// and the global flags. Tests build one with fakes; nothing here touches the
// real process unless System built it.
type Factory struct {
	IO         *IOStreams
	LookupEnv  func(string) (string, bool)
	Now        func() time.Time
	HTTPClient func() *http.Client
	Version    string

	// Output is the value of the global -o flag; commands read it through
	// OutputFormat so each can say which formats it supports.
	Output string
}

// NewFactory returns a Factory wired to the real process.
func NewFactory(version string) *Factory {
	return &Factory{
		IO:         System(),
		LookupEnv:  os.LookupEnv,
		Now:        time.Now,
		HTTPClient: func() *http.Client { return &http.Client{Timeout: 10 * time.Second} },
		Version:    version,
		Output:     FormatText,
	}
}

// OutputFormat returns the -o value if the command supports it.
func (f *Factory) OutputFormat(supported ...string) (string, error) {
	if len(supported) == 0 {
		supported = []string{FormatText, FormatJSON}
	}
	if slices.Contains(supported, f.Output) {
		return f.Output, nil
	}
	return "", UsageError("", "output format %q is not supported here (use %s)", f.Output, strings.Join(supported, " or "))
}

// WriteJSON writes v as one indented JSON document and a newline, with the
// encoding/json/v2 semantics pkg/token's types are written for. Duplicate
// member names are let through: decode shows a token's header and claims
// exactly as they are, and a token that repeats a member is one it must be
// able to show (with a duplicate_key warning).
func WriteJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v, json.Deterministic(true), jsontext.WithIndent("  "), jsontext.AllowDuplicateNames(true))
	if err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
