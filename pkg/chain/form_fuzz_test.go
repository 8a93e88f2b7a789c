package chain

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// FuzzParsePage checks the reader of form_post pages (OIDC
// response_mode=form_post, the handoff interstitial, login forms): any
// page the walk reads, up to maxBody, parses without a panic and in
// bounded time, twice to the same result; every form it finds is GET or
// POST; and every field, submit button and form it reports stands for a
// start tag the page really has, with the name written there, so a page
// cannot make the walk post a field it never showed.
func FuzzParsePage(f *testing.F) {
	f.Add([]byte(`<form method="post" action="https://portal.example/sso"><input type="hidden" name="token" value="e30.e30.sig"></form><script>document.forms[0].submit()</script>`))
	f.Add([]byte(`<body onload="document.forms[0].submit()"><form method=POST><input name=code value=x><input type=submit name=go value=Go></form>`))
	f.Add([]byte(`<form><input type=password name=password><input type=email name=identifier><select name=s><option>a<option selected value=b></select><textarea name=t>x</textarea></form>`))
	f.Add([]byte(`<meta http-equiv=refresh content="0; url='https://portal.example/'"><meta name=referrer content=no-referrer><base href=/x/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxBody {
			return // the walk reads no more than this
		}
		start := time.Now()
		p := parsePage(body)
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("parsePage took %v on a %d-byte page", d, len(body))
		}
		if again := parsePage(body); !reflect.DeepEqual(p, again) {
			t.Fatalf("parsePage is not deterministic:\n%+v\n%+v", p, again)
		}

		tags := startTags(body)
		if len(p.forms) > tags.forms {
			t.Fatalf("%d forms from a page with %d <form> start tags", len(p.forms), tags.forms)
		}
		for _, fm := range p.forms {
			if fm.method != "GET" && fm.method != "POST" {
				t.Fatalf("form method %q; want GET or POST", fm.method)
			}
			if strings.TrimSpace(fm.action) != fm.action {
				t.Fatalf("form action %q is not trimmed", fm.action)
			}
			fields := fm.fields
			if fm.submit != nil && fm.submit.name != "" { // a button without a name sends nothing
				fields = append(fields[:len(fields):len(fields)], *fm.submit)
			}
			for _, fl := range fields {
				if fl.name == "" || !tags.names[fl.name] {
					t.Fatalf("field %q (%s) is not a name any start tag of the page has", fl.name, fl.typ)
				}
			}
			// What the walk does next with a form must not panic either.
			_ = fm.kind(p.autoSubmit)
			_ = fm.canFill("alice@example.com", "wonderland")
			_ = fm.values("alice@example.com", "wonderland", false)
			_ = fm.signature()
		}
		if p.autoSubmit && !tags.submits {
			t.Fatal("autoSubmit set, but no script or attribute of the page says submit")
		}
		if !p.hasRefresh && (p.refresh != "" || p.refreshDelay != 0) {
			t.Fatalf("no refresh, but refresh %q after %ds", p.refresh, p.refreshDelay)
		}
		if strings.TrimSpace(p.base) != p.base {
			t.Fatalf("base %q is not trimmed", p.base)
		}
	})
}

// pageTags is what the tokenizer alone, without tree construction, sees
// in a page: an independent reading to check parsePage against.
type pageTags struct {
	forms   int             // <form> start tags
	names   map[string]bool // every name="" attribute value
	submits bool            // "submit" in some text or attribute, in any case
}

func startTags(body []byte) pageTags {
	pt := pageTags{names: map[string]bool{}}
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				panic(z.Err()) // a bytes.Reader fails only with io.EOF
			}
			return pt
		case html.TextToken:
			pt.submits = pt.submits || strings.Contains(strings.ToLower(string(z.Text())), "submit")
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if tok.Data == "form" {
				pt.forms++
			}
			for _, a := range tok.Attr {
				if a.Key == "name" {
					pt.names[a.Val] = true
				}
				pt.submits = pt.submits || strings.Contains(strings.ToLower(a.Val), "submit")
			}
		}
	}
}
