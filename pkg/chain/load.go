package chain

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest chain file Parse reads. A chain file is a few
// kilobytes; the cap keeps a wrong path (a log, a binary) from being parsed.
const MaxFileSize = 1 << 20

// Load reads and parses the chain file at path. Relative file paths in the
// chain (secret and key files) are then taken relative to the chain file's
// directory, as Compose and Kubernetes tools do, so a chain works from any
// working directory. An I/O failure is returned as is; problems in the file
// as a *LintError.
func Load(path string) (*Chain, error) { return LoadWith(path, Overrides{}) }

// Overrides replace values of a chain file before it is validated, as
// command-line flags do: the file stays as written, and the chain is
// checked as if it said what the overrides say.
type Overrides struct {
	// IdPPublicURL and IdPAdminURL replace idp.public_url and
	// idp.admin_url: a real Kratos on other ports than the file's, say.
	IdPPublicURL string
	IdPAdminURL  string
}

func (o Overrides) apply(c *Chain, d *decoder) {
	set := func(path string, field *string, v string) {
		if v == "" {
			return
		}
		*field = v
		// Validated as given; a problem with it points at the value it
		// replaced, or at idp: when the file had none.
		p, ok := d.pos[path]
		if !ok || p.null {
			p = d.pos["idp"]
			p.null = false
		}
		d.pos[path] = p
		delete(d.bad, path)
	}
	set("idp.public_url", &c.IdP.PublicURL, o.IdPPublicURL)
	set("idp.admin_url", &c.IdP.AdminURL, o.IdPAdminURL)
}

// LoadWith is Load with overrides.
func LoadWith(path string, o Overrides) (*Chain, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("chain file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("chain file: %w", err)
	}
	c, err := ParseWith(path, data, o)
	if err != nil {
		return nil, err
	}
	c.resolveFiles(filepath.Dir(path))
	return c, nil
}

// Parse decodes, defaults and validates one chain file. filename is used
// only in problem text. It returns a *LintError listing every problem when
// any is an error; warnings alone end up in Chain.Warnings.
func Parse(filename string, data []byte) (*Chain, error) {
	return ParseWith(filename, data, Overrides{})
}

// ParseWith is Parse with overrides.
func ParseWith(filename string, data []byte, o Overrides) (*Chain, error) {
	d := newDecoder()
	c := &Chain{File: filename}
	if len(data) > MaxFileSize {
		d.problems = append(d.problems, Problem{Line: 1, Col: 1, Message: fmt.Sprintf("file is larger than %d bytes (1 MiB)", MaxFileSize), Fix: "check the path: a chain file is a few kilobytes"})
		return nil, lintResult(filename, d.problems)
	}
	root, ok := d.document(data)
	if ok {
		rv := reflect.ValueOf(c).Elem()
		d.pos[""] = position{keyLine: root.Line, keyCol: root.Column, line: root.Line, col: root.Column}
		d.decodeValue(root, rv, "")
		o.apply(c, d)
		v := &validator{c: c, pos: d.pos, bad: d.bad}
		v.listenFrom = applyDefaults(c, v.given)
		v.validate()
		d.problems = append(d.problems, v.problems...)
	}
	if err := lintResult(filename, d.problems); err != nil {
		return nil, err
	}
	c.Warnings = d.problems
	sortProblems(c.Warnings)
	return c, nil
}

// lintResult returns a *LintError if any problem is an error.
func lintResult(filename string, ps []Problem) error {
	for _, p := range ps {
		if p.Severity == SeverityError {
			sortProblems(ps)
			return &LintError{File: filename, Problems: ps}
		}
	}
	return nil
}

var (
	yamlLineErr = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) })
	// yamlQuoted is a name yaml.v3 quotes in its message, like the anchor
	// in "unknown anchor 'x' referenced".
	yamlQuoted = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(` '[^']*'`) })
)

// document parses exactly one YAML document and returns its root mapping.
func (d *decoder) document(data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.problems = append(d.problems, Problem{Line: 1, Col: 1, Message: "file is empty", Fix: "start with version: 1"})
			return nil, false
		}
		d.problems = append(d.problems, syntaxProblem(data, err))
		return nil, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.problems = append(d.problems, syntaxProblem(data, err))
		return nil, false
	default:
		d.problems = append(d.problems, Problem{Line: next.Line, Col: next.Column, Message: "a second YAML document", Fix: "a chain file holds one document; remove the \"---\" and what follows, or split it into two files"})
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		d.problems = append(d.problems, Problem{Line: 1, Col: 1, Message: "file has no content", Fix: "start with version: 1"})
		return nil, false
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" && root.Value == "" {
		d.problems = append(d.problems, Problem{Line: 1, Col: 1, Message: "file is empty", Fix: "start with version: 1"})
		return nil, false
	}
	if root.Kind != yaml.MappingNode {
		d.problems = append(d.problems, Problem{Line: root.Line, Col: root.Column, Message: "a chain file must be a mapping of keys like version, name and issuer, got " + describeNode(root), Fix: "start with version: 1"})
		return nil, false
	}
	return root, true
}

// syntaxProblem turns a yaml.v3 error, which gives a line but no column,
// into a Problem placed at the first non-blank column of that line.
//
// What yaml.v3 quotes from the file is left out: an unquoted password that
// starts with '*' (password: *hunter2) is read as an alias, and the error
// names it.
func syntaxProblem(data []byte, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLineErr().FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if m := unknownAnchorErr().FindStringSubmatch(msg); m != nil {
		// yaml.v3 gives no line for it; find the alias.
		l, c := aliasPosition(data, m[1])
		return Problem{Line: l, Col: c, Message: "YAML syntax: an alias (*name) refers to no anchor", Fix: "YAML reads a value that starts with * as an alias: quote the value, or define the anchor with & before using it"}
	}
	msg = yamlQuoted().ReplaceAllString(msg, "")
	col := 1
	lines := bytes.Split(data, []byte("\n"))
	if line >= 1 && line <= len(lines) {
		text := lines[line-1]
		col = len(text) - len(bytes.TrimLeft(text, " \t")) + 1
	}
	return Problem{Line: line, Col: col, Message: "YAML syntax: " + msg, Fix: "check the indentation and quoting on this line and the one before"}
}

// resolveFiles makes relative secret and key file paths relative to dir.
func (c *Chain) resolveFiles(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	absAll := func(refs []SecretRef) {
		for i := range refs {
			abs(&refs[i].File)
		}
	}
	abs(&c.Token.Secret.File)
	absAll(c.Token.PreviousSecrets)
	abs(&c.Token.KeyFile)
	abs(&c.IdP.ClientSecret.File)
	for i := range c.IdP.Users {
		abs(&c.IdP.Users[i].Password.File)
	}
	abs(&c.Issuer.Cookie.Secret.File)
	absAll(c.Issuer.Cookie.PreviousSecrets)
	if c.Store.Redis != nil {
		abs(&c.Store.Redis.URLFile)
	}
	for i := range c.Receivers {
		abs(&c.Receivers[i].Cookie.Secret.File)
		absAll(c.Receivers[i].Cookie.PreviousSecrets)
	}
	for i := range c.Apps {
		abs(&c.Apps[i].Secret.File)
	}
}

var unknownAnchorErr = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^unknown anchor '([^']*)' referenced$`) })

// aliasPosition finds the first "*name" that stands as a YAML value, for an
// alias yaml.v3 could not resolve; 1:1 when it cannot be found.
func aliasPosition(data []byte, name string) (line, col int) {
	re := regexp.MustCompile(`(^|[\s\[{,:-])\*` + regexp.QuoteMeta(name) + `($|[\s\]},])`)
	for i, text := range bytes.Split(data, []byte("\n")) {
		if loc := re.FindIndex(text); loc != nil {
			at := loc[0]
			if text[at] != '*' {
				at++
			}
			return i + 1, at + 1
		}
	}
	return 1, 1
}
