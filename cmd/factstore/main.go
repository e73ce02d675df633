// Command factstore is the Factstore server and its operator tools: serve the
// API, rebuild the read models, and verify or export the ledger.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "factstore:", err)
		os.Exit(1)
	}
}
