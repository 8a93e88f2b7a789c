package cmdutil

import (
	"fmt"
	"io"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Styles are the few looks ssoctl output uses. With color off every style
// renders its text unchanged, so plain output is byte-for-byte predictable.
type Styles struct {
	Heading lipgloss.Style // section titles
	Label   lipgloss.Style // field names
	Dim     lipgloss.Style // secondary detail
	Good    lipgloss.Style // VALID, ok
	Bad     lipgloss.Style // INVALID, failures
	Warn    lipgloss.Style // warnings, UNVERIFIED
	Code    lipgloss.Style // reason codes
}

// NewStyles returns styles that render for w, in color only when color is
// true.
func NewStyles(w io.Writer, color bool) *Styles {
	r := lipgloss.NewRenderer(w)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	return &Styles{
		Heading: r.NewStyle().Bold(true),
		Label:   r.NewStyle().Foreground(lipgloss.Color("245")),
		Dim:     r.NewStyle().Foreground(lipgloss.Color("242")),
		Good:    r.NewStyle().Bold(true).Foreground(lipgloss.Color("2")),
		Bad:     r.NewStyle().Bold(true).Foreground(lipgloss.Color("1")),
		Warn:    r.NewStyle().Bold(true).Foreground(lipgloss.Color("3")),
		Code:    r.NewStyle().Foreground(lipgloss.Color("6")),
	}
}

// Since renders the distance from now to t for people: "in 23s", "3m ago",
// "2h ago", "in 4d". Under a minute it counts seconds, under an hour whole
// minutes, under two days whole hours, then days.
func Since(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}
