package cmdutil

import "testing"

func TestPrintable(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain text is unchanged", "chain.yaml", "chain.yaml"},
		{"printable Unicode is unchanged", "café → ok", "café → ok"},
		{"an escape sequence is shown, not run", "evil\x1b[2J.yaml", `evil\x1b[2J.yaml`},
		{"a C1 control (CSI to many terminals) is escaped", "a\u009b31mred", `a\u009b31mred`},
		{"a bidi override cannot reorder the line", "rtl\u202egnp.yaml", `rtl\u202egnp.yaml`},
		{"CR LF cannot forge a second line", "s\r\nVALID: yes", `s\r\nVALID: yes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Printable(tt.in); got != tt.want {
				t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
