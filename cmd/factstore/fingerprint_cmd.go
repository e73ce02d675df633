package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/factstore/factstore/cmd/factstore/fingerprint"
)

func fingerprintCmd() *cobra.Command {
	var artifactType string
	var excludes []string
	cmd := &cobra.Command{
		Use:   "fingerprint PATH",
		Short: "Print the Kosli fingerprint (SHA-256) of a file or directory, offline",
		Long: "Print the fingerprint `kosli fingerprint` computes for PATH: the SHA-256 of a file's bytes,\n" +
			"or of a directory's sorted walk of names and contents. Patterns from --exclude and from a\n" +
			".kosli_ignore file at the top of the directory leave entries (and directories' subtrees) out.\n" +
			"Without --artifact-type, a directory is fingerprinted as dir and anything else as file.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			fp, err := fingerprint.Path(args[0], artifactType, excludes)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), fp)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&artifactType, "artifact-type", "t", "", "file or dir (docker and oci need a daemon or registry and are not supported); default: dir for a directory, else file [FACTSTORE_ARTIFACT_TYPE]")
	fs.StringSliceVarP(&excludes, "exclude", "x", nil, "doublestar glob, relative to the directory, of entries to leave out (repeatable or comma-separated) [FACTSTORE_EXCLUDE]")
	return cmd
}
