package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/factstore/factstore/cmd/factstore/app"
)

func serveCmd() *cobra.Command {
	var sf storeFlags
	var httpAddr, natsListen, logFormat string
	var maxBody, maxEvidence, maxSnapshot int64
	var gcPercent int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Factstore server (embedded NATS JetStream and bbolt by default)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			if err := sf.validate(); err != nil {
				return err
			}
			log, err := newLogger(logFormat)
			if err != nil {
				return err
			}
			gcPercent = app.TuneGC(gcPercent)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			node, err := app.Start(ctx, app.Config{
				DataDir: sf.dataDir, NATSListen: natsListen, NATSURL: sf.natsURL, Replicas: sf.replicas,
				MaxBodyBytes: maxBody, MaxEvidenceBytes: maxEvidence, MaxSnapshotBytes: maxSnapshot, Logger: log,
			})
			if err != nil {
				return err
			}
			defer node.Close()
			head, _ := node.Reader.Head(ctx)
			natsAt := natsListen
			switch {
			case sf.natsURL != "":
				natsAt = sf.natsURL
			case natsListen == "":
				natsAt = "in-process only"
			}
			log.Info("factstore started", "version", version, "dataDir", sf.dataDir, "http", httpAddr, "nats", natsAt,
				"stream", node.Stream, "headSeq", head.Seq, "headHash", head.Hash, "appliedSeq", node.Store.Applied(),
				"keyId", node.Signer.KeyID(), "gcPercent", gcPercent)
			go verifyAtStart(ctx, node)

			ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", httpAddr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", httpAddr, err)
			}
			srv := &http.Server{
				Handler: node.API.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute,
				WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
			}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			log.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	fs := cmd.Flags()
	sf.register(fs)
	fs.StringVar(&httpAddr, "http-addr", ":8080", "HTTP listen address [FACTSTORE_HTTP_ADDR]")
	fs.StringVar(&natsListen, "nats-listen", "127.0.0.1:4222", `embedded server's client address ("" = in-process only) [FACTSTORE_NATS_LISTEN]`)
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json [FACTSTORE_LOG_FORMAT]")
	fs.Int64Var(&maxBody, "max-body-bytes", 1<<20, "largest accepted JSON body [FACTSTORE_MAX_BODY_BYTES]")
	fs.Int64Var(&maxEvidence, "max-evidence-bytes", 100<<20, "largest accepted evidence file [FACTSTORE_MAX_EVIDENCE_BYTES]")
	fs.Int64Var(&maxSnapshot, "max-snapshot-bytes", 16<<20, "largest accepted snapshot report body [FACTSTORE_MAX_SNAPSHOT_BYTES]")
	fs.IntVar(&gcPercent, "gc-percent", app.DefaultGCPercent, "garbage collector target, as GOGC (a GOGC environment variable wins; 0 = the runtime's) [FACTSTORE_GC_PERCENT]")
	return cmd
}

// verifyAtStart re-verifies the whole chain in the background so that the
// status page reports tampering that happened while the server was down.
func verifyAtStart(ctx context.Context, node *app.Node) {
	start := time.Now()
	rep, err := node.Reader.Verify(ctx, node.Keys, 1, 0, nil)
	if err != nil {
		return
	}
	node.API.RecordStartupVerification(rep, start)
}
