package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "factstore",
		Short:         "Factstore: a signed, hash-chained compliance fact store",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Results go to standard output (cobra defaults to standard error);
	// logs and progress stay on standard error.
	root.SetOut(os.Stdout)
	ledgerCmd := &cobra.Command{Use: "ledger", Short: "Verify or export the ledger"}
	ledgerCmd.AddCommand(verifyCmd(), exportCmd())
	root.AddCommand(serveCmd(), rebuildCmd(), ledgerCmd, &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run:   func(cmd *cobra.Command, _ []string) { cmd.Println("factstore", version) },
	})
	root.AddCommand(fingerprintCmd())
	return root
}

// envDefaults sets every flag not given on the command line from its
// environment variable: FACTSTORE_ and the flag name in upper case with
// underscores (--data-dir -> FACTSTORE_DATA_DIR).
func envDefaults(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "FACTSTORE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, serr)
			}
		}
	})
	return err
}

func newLogger(format string) (*slog.Logger, error) {
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(os.Stderr, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, nil)), nil
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
	}
}

// storeFlags are the flags every command that reaches the stream shares.
type storeFlags struct {
	dataDir  string
	natsURL  string
	replicas int
}

func (s *storeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.dataDir, "data-dir", "./data", "data directory (signing key, read models, embedded JetStream store) [FACTSTORE_DATA_DIR]")
	fs.StringVar(&s.natsURL, "nats-url", "", "use an existing NATS server or cluster (comma-separated URLs) instead of the embedded one [FACTSTORE_NATS_URL]")
	fs.IntVar(&s.replicas, "replicas", 1, "stream replicas when creating the stream on a cluster (1 or 3) [FACTSTORE_REPLICAS]")
}

func (s *storeFlags) validate() error {
	if s.replicas != 1 && s.replicas != 3 && s.replicas != 5 {
		return fmt.Errorf("--replicas must be 1, 3 or 5, not %s", strconv.Itoa(s.replicas))
	}
	return nil
}
