// Command ssoctl runs and debugs propagating single sign-on chains.
package main

import (
	"os"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/root"
)

// version is stamped at release: -ldflags "-X main.version=v1.2.3".
var version string

func main() { os.Exit(run()) }

func run() int {
	return root.Main(cmdutil.NewFactory(version), os.Args[1:])
}
