package chaincmd

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// stdinName is the file name problems carry for a chain read from stdin,
// as compilers write it.
const stdinName = "<stdin>"

// loadChain reads the chain file named by -f ("-" for stdin) with pkg/chain.
// Problems in the file come back as a *chain.LintError; a file that cannot
// be read is a usage error (exit 2).
func loadChain(f *cmdutil.Factory, file, cmdPath string) (*chain.Chain, error) {
	if file == "" {
		return nil, cmdutil.UsageError(fmt.Sprintf("pass the chain file, like '%s -f chain.yaml' (or -f - for stdin)", cmdPath), "-f is required: the chain file")
	}
	if file == "-" {
		if f.IO.IsStdinTTY() {
			return nil, cmdutil.UsageError("pipe the chain file in ("+cmdPath+" -f - < chain.yaml), or give its path", "-f - reads the chain file from stdin, which is a terminal")
		}
		data, err := io.ReadAll(io.LimitReader(f.IO.In, chain.MaxFileSize+1))
		if err != nil {
			return nil, cmdutil.UsageError("", "reading the chain file from stdin: %v", err)
		}
		return chain.Parse(stdinName, data)
	}
	c, err := chain.Load(file)
	var lint *chain.LintError
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &lint):
		return nil, err
	case strings.Contains(err.Error(), "is a directory"):
		return nil, cmdutil.UsageError("-f takes the chain file itself, like "+cmdutil.Printable(strings.TrimSuffix(file, "/"))+"/chain.yaml", "%s", cmdutil.Printable(err.Error()))
	default:
		return nil, cmdutil.UsageError("check the path given to -f", "%s", cmdutil.Printable(err.Error()))
	}
}

// displayName is the name problems carry for the -f value.
func displayName(file string) string {
	if file == "-" {
		return stdinName
	}
	return file
}

// problemView is one problem in -o json, and the shape both commands print.
type problemView struct {
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Severity string `json:"severity"`
	Path     string `json:"path"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

func problemViews(ps []chain.Problem) []problemView {
	out := make([]problemView, 0, len(ps))
	for _, p := range ps {
		out = append(out, problemView{Line: p.Line, Col: p.Col, Severity: p.Severity.String(), Path: p.Path, Message: p.Message, Fix: p.Fix})
	}
	return out
}

// plural writes "1 error", "2 errors".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
