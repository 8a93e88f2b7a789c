// Package e2e holds ssoctl's end-to-end tests in a real browser: a chain
// served in the test process on free loopback ports, walked by headless
// Chromium through chromedp. They cover what the Go walk (pkg/chain,
// internal/browsertest) cannot: Content-Security-Policy, form-action on the
// redirects after a form, SameSite and Secure cookies on *.localhost, the
// form_post interstitial's script, as a person's browser applies them.
//
// The package has no code outside its tests. Chromium comes from
// $SSOCTL_CHROMIUM (scripts/test sets it) or scripts/chromium.sh, which
// installs it when missing; without one the tests skip, or fail when CI=true.
// Screenshots of the login form and of every landing page go to
// $SSOCTL_TEST_OUTPUT/browser/<test>/ (default <repo>/.test-output/browser/<test>/).
package e2e
