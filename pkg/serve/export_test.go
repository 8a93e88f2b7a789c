package serve

// OIDCTestChain is the chain file of the tests that run an OpenID
// provider in the test process (oidctest) at providerURL: the internal
// ones (oidc_bound_internal_test.go) and serve_test's.
func OIDCTestChain(providerURL string) string {
	return `version: 1
name: oidc
dev: true
idp: {kind: oidc, public_url: "` + providerURL + `", client_id: ssoctl, client_secret: dev-only-client-secret}
issuer: {url: "http://127.0.0.1:9999"}
token: {alg: HS256}
receivers: [{name: portal, url: "http://portal.company2.localhost:8081"}]
return_to: {allow: ["http://portal.company2.localhost:8081"]}
`
}
