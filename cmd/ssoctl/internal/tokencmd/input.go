package tokencmd

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/token"
)

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxInput+1))
}

// tokenInput finds the token in what decode and verify were given: the
// argument (a token or a URL holding one), or stdin for "-" or no argument
// (a token, a URL, a form_post body or an interstitial page).
type tokenInput struct {
	Token string
	Where string
	Extra int // further tokens found and not used
}

func readTokenInput(f *cmdutil.Factory, args []string) (*tokenInput, error) {
	var raw, from string
	switch {
	case len(args) == 1 && args[0] != "-":
		raw, from = args[0], "the argument"
	case len(args) == 0 && f.IO.IsStdinTTY():
		return nil, cmdutil.UsageError("pass the token or a URL holding it as the argument, or pipe it in with -", "no token given")
	default:
		b, err := readAllLimited(f.IO.In, "stdin")
		if err != nil {
			return nil, err
		}
		raw, from = string(b), "stdin"
	}
	found := token.Find(raw)
	if len(found) == 0 {
		trimmed := strings.TrimSpace(raw)
		if trimmed != "" && !strings.ContainsAny(trimmed, " \t\r\n?#=&<>") {
			// One word that is not JWT-shaped: hand it to the parser so the
			// error says exactly what is wrong with it.
			return &tokenInput{Token: trimmed, Where: from}, nil
		}
		return nil, cmdutil.FailedError("pass the token itself, or a URL, form body or page that contains it", "no token found in %s", from)
	}
	in := &tokenInput{Token: found[0].Token, Where: found[0].Where, Extra: len(found) - 1}
	if in.Where == "argument" {
		in.Where = from
	} else if from == "stdin" {
		in.Where = fmt.Sprintf("%s (stdin)", in.Where)
	}
	return in, nil
}
