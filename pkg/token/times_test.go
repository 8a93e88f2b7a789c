package token_test

import (
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// A limit reads as the setting that made it.
func TestFormatLimit(t *testing.T) {
	for d, want := range map[time.Duration]string{
		72 * time.Hour:                 "72h",
		90 * time.Minute:               "1h30m",
		2 * time.Minute:                "2m",
		30 * time.Second:               "30s",
		90 * time.Second:               "1m30s",
		time.Hour + 30*time.Second:     "1h0m30s",
		1500 * time.Millisecond:        "1.5s",
		100*time.Hour + 20*time.Minute: "100h20m",
	} {
		if got := token.FormatSetting(d); got != want {
			t.Errorf("FormatSetting(%s) = %q, want %q", d, got, want)
		}
	}
}
