// Command go-app is a small app behind an ssoctl receiver: the receiver
// (ssoctl serve receiver --upstream, or receivers[].upstream) logs the
// browser in and proxies it here with X-Auth-* identity headers;
// serve.RequireSession believes them only from a loopback peer, so listen
// on loopback. See README.md.
package main

import (
	"flag"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"time"

	"github.com/ssoctl/ssoctl/pkg/serve"
)

var page = template.Must(template.New("page").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>go-app</title></head><body>
<h1>Hello, {{or .Email .Subject}}</h1>
<ul>
<li>subject: <code>{{.Subject}}</code></li>
<li>session: <code>{{.SessionID}}</code></li>
<li>email: <code>{{.Email}}</code></li>
<li>role: <code>{{.Role}}</code></li>
</ul>
</body></html>
`))

// newApp is the app: every path shows who is signed in.
func newApp() http.Handler {
	return serve.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := serve.IdentityFrom(r.Context())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = page.Execute(w, id)
	}))
}

func main() {
	listen := flag.String("listen", "127.0.0.1:3000", "address to listen on; keep it on loopback, next to the receiver")
	flag.Parse()
	srv := &http.Server{Addr: *listen, Handler: newApp(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("go-app on http://%s (reach it through the receiver)\n", *listen)
	log.Fatal(srv.ListenAndServe())
}
