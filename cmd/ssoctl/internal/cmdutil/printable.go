package cmdutil

import (
	"strconv"
	"unicode"
)

// Printable makes text that came from outside (a token's claims, a chain
// file's keys) safe to print on a terminal: a hostile value must not be
// able to move the cursor, rewrite earlier lines, set the window title or
// reorder text with bidi overrides. Text with any control or non-printable
// character is shown Go-quoted, without the surrounding quotes.
func Printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			q := strconv.QuoteToGraphic(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}
