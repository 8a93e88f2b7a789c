package cmdutil

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are a command's standard streams and what is known about them.
// Results go to Out, diagnostics to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	noColor   bool
}

// System returns the process's streams, with TTY detection and NO_COLOR
// (https://no-color.org: any non-empty value) honoured.
func System() *IOStreams {
	return &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		noColor:   os.Getenv("NO_COLOR") != "",
	}
}

// Test returns streams backed by buffers, none of them a terminal.
func Test() (ios *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

func (s *IOStreams) IsStdinTTY() bool        { return s.stdinTTY }
func (s *IOStreams) IsStdoutTTY() bool       { return s.stdoutTTY }
func (s *IOStreams) SetStdinTTY(v bool)      { s.stdinTTY = v }
func (s *IOStreams) SetStdoutTTY(v bool)     { s.stdoutTTY = v }
func (s *IOStreams) SetStderrTTY(v bool)     { s.stderrTTY = v }
func (s *IOStreams) SetColorDisabled(v bool) { s.noColor = v }

// ColorEnabled reports whether stdout gets ANSI styling: only on a
// terminal, and never with --no-color or NO_COLOR.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.noColor }

// ErrColorEnabled is ColorEnabled for stderr.
func (s *IOStreams) ErrColorEnabled() bool { return s.stderrTTY && !s.noColor }
