package chain

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalHost(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		want    string
		wantErr bool
	}{
		{name: "lower-cased", host: "Portal.Company2.COM", want: "portal.company2.com"},
		{name: "trailing dot dropped", host: "portal.company2.com.", want: "portal.company2.com"},
		{name: "IDN to punycode", host: "пример.испытание", want: "xn--e1afmkfd.xn--80akhbyknj4f"},
		{name: "Kelvin sign folds to k", host: "\u212Aey.example", want: "key.example"},
		{name: "fullwidth letters map as in a browser", host: "\uff50\uff4f\uff52\uff54\uff41\uff4c.example", want: "portal.example"},
		{name: "Unicode upper case maps before encoding", host: "B\u00dcCHER.example", want: "xn--bcher-kva.example"},
		{name: "RFC 3492 7.1 B, Chinese", host: "\u4ED6\u4EEC\u4E3A\u4EC0\u4E48\u4E0D\u8BF4\u4E2D\u6587.example", want: "xn--ihqwcrb4cv8a8dqg056pqjye.example"},
		{name: "underscore allowed", host: "a_b.example", want: "a_b.example"},
		{name: "IPv4 dotted quad", host: "10.0.0.1", want: "10.0.0.1"},
		{name: "IPv6 in RFC 5952 form", host: "[2001:DB8:0:0:0:0:0:1]", want: "[2001:db8::1]"},
		{name: "empty", host: "", wantErr: true},
		{name: "only a dot", host: ".", wantErr: true},
		{name: "empty label", host: "a..b", wantErr: true},
		{name: "leading dot", host: ".a.b", wantErr: true},
		{name: "percent", host: "%61.b", wantErr: true},
		{name: "slash", host: "a/b", wantErr: true},
		{name: "symbol outside letters", host: "a\u2488b.example", wantErr: true},
		{name: "halfwidth ideographic full stop", host: "a\uff61example", wantErr: true},
		{name: "label over 63", host: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b", wantErr: true},
		{name: "octal-looking IPv4", host: "010.0.0.1", wantErr: true},
		{name: "three-part IPv4", host: "10.0.1", wantErr: true},
		{name: "hex last label", host: "a.0x10", wantErr: true},
		{name: "IPv4 in brackets", host: "[10.0.0.1]", wantErr: true},
		{name: "IPv6 without brackets is not a host name", host: "::1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := canonicalHost(tt.host)
			if tt.wantErr {
				if err == nil || !errors.Is(err, errHost) {
					t.Fatalf("canonicalHost(%q) = %q, %v; want an invalid-host error", tt.host, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("canonicalHost(%q) = %q, %v; want %q", tt.host, got, err, tt.want)
			}
		})
	}
}

func TestDomainMatch(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		domain string
		want   bool
	}{
		{name: "identical", host: "company.com", domain: "company.com", want: true},
		{name: "subdomain", host: "accounts.company.com", domain: "company.com", want: true},
		{name: "deeper subdomain", host: "a.b.company.com", domain: "company.com", want: true},
		{name: "suffix without a dot", host: "evilcompany.com", domain: "company.com", want: false},
		{name: "parent of the domain", host: "company.com", domain: "accounts.company.com", want: false},
		{name: "IP host is never a subdomain", host: "10.0.0.1", domain: "0.0.1", want: false},
		{name: "IP host equal", host: "10.0.0.1", domain: "10.0.0.1", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domainMatch(tt.host, tt.domain); got != tt.want {
				t.Errorf("domainMatch(%q, %q) = %v, want %v", tt.host, tt.domain, got, tt.want)
			}
		})
	}
}

func TestCanonicalHostRefusesLongUnicodeLabelQuickly(t *testing.T) {
	label := strings.Repeat("ü", 60) // 60 runes cannot encode into 59 bytes
	if _, err := canonicalHost(label + ".example"); !errors.Is(err, errHost) {
		t.Errorf("canonicalHost(60 × ü) error = %v, want an invalid-host error", err)
	}
	short := strings.Repeat("ü", 3)
	if got, err := canonicalHost(short + ".example"); err != nil || !strings.HasPrefix(got, "xn--") {
		t.Errorf("canonicalHost(üüü.example) = %q, %v", got, err)
	}
}
