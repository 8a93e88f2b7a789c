package testenv

import "regexp"

// JWT finds a compact JWS in text: "eyJ" ('{"' in base64url) starting a
// run of base64url, then two dots. Tests use it to check that output, logs
// and traces never show a token. A bare "eyJ" is no evidence: a sealed
// value (random nonce and ciphertext, base64url), which traces show on
// purpose, holds it by chance now and then.
var JWT = regexp.MustCompile(`(?:^|[^A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.`)
