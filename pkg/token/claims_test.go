package token_test

import (
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/ssoctl/ssoctl/pkg/token"
)

func TestNumericDateJSON(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    time.Time
		reenc   string // the encoding of what was read
		wantErr bool
	}{
		{name: "whole seconds", json: `1773500966`, want: time.Unix(1773500966, 0), reenc: `1773500966`},
		{name: "exponent", json: `1.773500966e9`, want: time.Unix(1773500966, 0), reenc: `1773500966`},
		{name: "fraction", json: `1773500966.5`, want: time.Unix(1773500966, 5e8), reenc: `1773500966.5`},
		{name: "epoch", json: `0`, want: time.Unix(0, 0), reenc: `0`},
		{name: "last second of 9999", json: `253402300799`, want: time.Unix(253402300799, 0), reenc: `253402300799`},
		{name: "fraction after 2262 (past UnixNano's range)", json: `10000000000.5`, want: time.Unix(10000000000, 5e8), reenc: `10000000000.5`},
		{name: "year 10000", json: `253402300800`, wantErr: true},
		{name: "negative", json: `-1`, wantErr: true},
		{name: "string", json: `"1773500966"`, wantErr: true},
		{name: "null", json: `null`, wantErr: true},
		{name: "bool", json: `true`, wantErr: true},
		{name: "huge", json: `1e400`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c token.Claims
			err := jsonv2.Unmarshal([]byte(`{"exp":`+tc.json+`}`), &c)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("exp %s read as %v", tc.json, c.Expiry.Time)
				}
				return
			}
			if err != nil || !c.Expiry.Equal(tc.want) {
				t.Fatalf("exp %s = %v, %v; want %v", tc.json, c.Expiry.Time, err, tc.want)
			}
			out, err := jsonv2.Marshal(token.Claims{Expiry: c.Expiry})
			if want := `{"exp":` + tc.reenc + `}`; err != nil || string(out) != want {
				t.Errorf("re-encoded as %s, %v; want %s", out, err, want)
			}
		})
	}
}

func TestAudienceJSON(t *testing.T) {
	tests := []struct {
		json    string
		want    []string
		reenc   string
		wantErr bool
	}{
		{json: `"portal"`, want: []string{"portal"}, reenc: `"portal"`},
		{json: `["portal"]`, want: []string{"portal"}, reenc: `"portal"`},
		{json: `["portal","dashboard"]`, want: []string{"portal", "dashboard"}, reenc: `["portal","dashboard"]`},
		{json: `[]`, want: []string{}, reenc: `[]`},
		{json: `5`, wantErr: true},
		{json: `{"aud":"portal"}`, wantErr: true},
		{json: `["portal",5]`, wantErr: true},
		{json: `null`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.json, func(t *testing.T) {
			var c token.Claims
			err := jsonv2.Unmarshal([]byte(`{"aud":`+tc.json+`}`), &c)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("aud %s read as %q", tc.json, c.Audience)
				}
				return
			}
			if err != nil || len(c.Audience) != len(tc.want) {
				t.Fatalf("aud %s = %q, %v; want %q", tc.json, c.Audience, err, tc.want)
			}
			for i := range tc.want {
				if c.Audience[i] != tc.want[i] {
					t.Fatalf("aud %s = %q; want %q", tc.json, c.Audience, tc.want)
				}
			}
			out, err := jsonv2.Marshal(token.Claims{Audience: c.Audience})
			want := `{}`
			if tc.reenc != "" {
				want = `{"aud":` + tc.reenc + `}`
			}
			if err != nil || string(out) != want {
				t.Errorf("re-encoded as %s, %v; want %s", out, err, want)
			}
		})
	}
}
