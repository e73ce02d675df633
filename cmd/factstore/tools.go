package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/factstore/factstore/cmd/factstore/app"
	"github.com/factstore/factstore/ledger"
	"github.com/factstore/factstore/projections"
)

// progress shows events done, rate and time left on a terminal, and nothing
// when stderr is not one (CI logs stay clean).
type progress struct {
	bar *progressbar.ProgressBar
}

func newProgress(total uint64, what string) *progress {
	if !term.IsTerminal(int(os.Stderr.Fd())) || total == 0 {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions64(int64(total),
		progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish())}
}

func (p *progress) set(done uint64) {
	if p.bar != nil {
		_ = p.bar.Set64(int64(done))
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

func rate(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func rebuildCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Drop the read models and replay the ledger into them (server must be stopped)",
		RunE: func(cmd *cobra.Command, _ []string) (retErr error) {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			// Like a serving node, with the marker that has a machine crash
			// during the rebuild discard the torn file on the next start.
			store, err := app.OpenReadModels(sf.dataDir, slog.Default())
			if err != nil {
				return err
			}
			defer func() {
				if cerr := app.CloseReadModels(sf.dataDir, store); cerr != nil && retErr == nil {
					retErr = cerr
				}
			}()
			keys, err := app.LoadKeyring(sf.dataDir, nil)
			if err != nil {
				return err
			}
			store.SetKeys(keys)
			conn, err := app.Dial(ctx, app.Config{DataDir: sf.dataDir, NATSURL: sf.natsURL, Replicas: sf.replicas})
			if err != nil {
				return err
			}
			defer conn.Close()
			last, err := conn.Reader.LastSeq(ctx)
			if err != nil {
				return err
			}
			res, err := Rebuild(ctx, store, conn.Reader, newProgress(last, "rebuild"))
			if err != nil {
				return err
			}
			cmd.Printf("rebuilt read models: %d events in %s (%.0f events/s)%s\n", res.Events, res.Took.Round(time.Millisecond),
				rate(res.Events, res.Took), res.haltNote())
			if res.Halted != nil {
				return errors.New("ledger chain broken")
			}
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

// RebuildResult summarises a rebuild.
type RebuildResult struct {
	Events uint64
	Took   time.Duration
	Halted *ledger.BrokenError
}

func (r RebuildResult) haltNote() string {
	if r.Halted == nil {
		return ""
	}
	return fmt.Sprintf("; HALTED at sequence %d: %s", r.Halted.Seq, r.Halted.Reason)
}

// Rebuild drops the read models and replays the stream into them, with
// fsync off until one final sync (the stream is the source of truth).
func Rebuild(ctx context.Context, store *projections.Store, src projections.Source, p *progress) (RebuildResult, error) {
	start := time.Now()
	if err := store.Reset(); err != nil {
		return RebuildResult{}, err
	}
	store.SetNoSync(true)
	defer store.SetNoSync(false)
	err := store.CatchUp(ctx, src, p.set)
	p.finish()
	if err != nil && !errors.Is(err, projections.ErrHalted) {
		return RebuildResult{}, err
	}
	if err := store.Sync(); err != nil {
		return RebuildResult{}, fmt.Errorf("sync read models: %w", err)
	}
	return RebuildResult{Events: store.Applied(), Took: time.Since(start), Halted: store.Halted()}, nil
}

func verifyCmd() *cobra.Command {
	var sf storeFlags
	var file, keysFile string
	var from, to uint64
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify every hash, link and signature of the ledger; exit 0 only if all hold",
		Long: "Verify a stopped data directory (--data-dir), a live stream (--nats-url) or an export (--file).\n" +
			"Trusted keys: the data directory's signing key and keys/trusted/*.json, the export's header,\n" +
			"or only --public-keys FILE when given (pin keys you obtained out of band).",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			var rep ledger.Report
			start := time.Now()
			var err error
			if file != "" {
				rep, err = verifyFile(ctx, file, keysFile)
			} else {
				rep, err = verifyStream(ctx, sf, keysFile, from, to)
			}
			if err != nil {
				return err
			}
			took := time.Since(start)
			if !rep.Valid {
				cmd.Printf("INVALID: first bad sequence %d: %s (%d events verified before it)\n", rep.Broken.Seq, rep.Broken.Reason, rep.Checked)
				return fmt.Errorf("ledger verification failed at sequence %d", rep.Broken.Seq)
			}
			cmd.Printf("OK: %d events verified (sequences %d-%d, head %s) in %s (%.0f events/s)\n",
				rep.Checked, rep.FirstSeq, rep.LastSeq, rep.HeadHash, took.Round(time.Millisecond), rate(rep.Checked, took))
			return nil
		},
	}
	fs := cmd.Flags()
	sf.register(fs)
	fs.StringVar(&file, "file", "", "verify an export file written by 'factstore ledger export'")
	fs.StringVar(&keysFile, "public-keys", "", "trust only the keys in this file (JSON, as served by /api/v1/ledger/public-keys)")
	fs.Uint64Var(&from, "from", 1, "first sequence to verify")
	fs.Uint64Var(&to, "to", 0, "last sequence to verify (0 = the end)")
	return cmd
}

func keyringFor(dataDir, keysFile string) (*ledger.Keyring, error) {
	if keysFile != "" {
		k, err := ledger.NewKeyring()
		if err != nil {
			return nil, err
		}
		return k, app.AddKeysFile(k, keysFile)
	}
	return app.LoadKeyring(dataDir, nil)
}

func verifyStream(ctx context.Context, sf storeFlags, keysFile string, from, to uint64) (ledger.Report, error) {
	keys, err := keyringFor(sf.dataDir, keysFile)
	if err != nil {
		return ledger.Report{}, err
	}
	if len(keys.Keys()) == 0 {
		return ledger.Report{}, errors.New("no trusted keys: give --public-keys or a data directory with a signing key")
	}
	conn, err := app.Dial(ctx, app.Config{DataDir: sf.dataDir, NATSURL: sf.natsURL, Replicas: sf.replicas})
	if err != nil {
		return ledger.Report{}, err
	}
	defer conn.Close()
	last, err := conn.Reader.LastSeq(ctx)
	if err != nil {
		return ledger.Report{}, err
	}
	p := newProgress(last, "verify")
	defer p.finish()
	return conn.Reader.Verify(ctx, keys, from, to, p.set)
}

// exportHeader is the first line of an export file.
type exportHeader struct {
	Format     string             `json:"format"`
	Version    int                `json:"version"`
	Stream     string             `json:"stream"`
	FromSeq    uint64             `json:"fromSeq"`
	ToSeq      uint64             `json:"toSeq"`
	PrevHash   string             `json:"prevHash"`
	ExportedAt time.Time          `json:"exportedAt"`
	PublicKeys []ledger.PublicKey `json:"publicKeys"`
}

const exportFormat = "factstore-ledger-export"

func verifyFile(ctx context.Context, path, keysFile string) (ledger.Report, error) {
	f, err := os.Open(path) //nolint:gosec // operator-supplied export file
	if err != nil {
		return ledger.Report{}, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	if !sc.Scan() {
		return ledger.Report{}, fmt.Errorf("%s: empty export", path)
	}
	var h exportHeader
	if jerr := json.Unmarshal(sc.Bytes(), &h); jerr != nil || h.Format != exportFormat {
		return ledger.Report{}, fmt.Errorf("%s: not a factstore ledger export (bad header line)", path)
	}
	var keys *ledger.Keyring
	if keysFile != "" {
		if keys, err = keyringFor("", keysFile); err != nil {
			return ledger.Report{}, err
		}
	} else if keys, err = ledger.NewKeyring(h.PublicKeys...); err != nil {
		return ledger.Report{}, err
	}
	src := func(context.Context) (ledger.Item, error) {
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return ledger.Item{}, err
			}
			return ledger.Item{}, io.EOF
		}
		return ledger.Item{Raw: append([]byte(nil), sc.Bytes()...)}, nil
	}
	p := newProgress(h.ToSeq-h.FromSeq+1, "verify")
	defer p.finish()
	return ledger.Verify(ctx, src, ledger.VerifyOptions{Keys: keys, Start: ledger.ChainState{NextSeq: h.FromSeq, PrevHash: h.PrevHash}, Progress: p.set})
}

func exportCmd() *cobra.Command {
	var sf storeFlags
	var from, to uint64
	var out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the ledger's envelopes as JSON lines, after a header with the public keys",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			keys, err := app.LoadKeyring(sf.dataDir, nil)
			if err != nil {
				return err
			}
			conn, err := app.Dial(ctx, app.Config{DataDir: sf.dataDir, NATSURL: sf.natsURL, Replicas: sf.replicas})
			if err != nil {
				return err
			}
			defer conn.Close()
			n, took, err := export(ctx, conn, keys, from, to, out)
			if err != nil {
				return err
			}
			dest := out
			if dest == "" || dest == "-" {
				dest = "stdout"
			}
			fmt.Fprintf(os.Stderr, "exported %d events to %s in %s (%.0f events/s)\n", n, dest, took.Round(time.Millisecond), rate(n, took))
			return nil
		},
	}
	fs := cmd.Flags()
	sf.register(fs)
	fs.Uint64Var(&from, "from", 1, "first sequence to export")
	fs.Uint64Var(&to, "to", 0, "last sequence to export (0 = the end)")
	fs.StringVar(&out, "out", "", "output file (default standard output)")
	return cmd
}

func export(ctx context.Context, conn *app.Conn, keys *ledger.Keyring, from, to uint64, out string) (uint64, time.Duration, error) {
	start := time.Now()
	last, err := conn.Reader.LastSeq(ctx)
	if err != nil {
		return 0, 0, err
	}
	if from == 0 {
		from = 1
	}
	if to == 0 || to > last {
		to = last
	}
	prev := ledger.ZeroHash
	if from > 1 {
		raw, err := conn.Reader.Get(ctx, from-1)
		if err != nil {
			return 0, 0, err
		}
		e, err := ledger.Decode(raw)
		if err != nil {
			return 0, 0, err
		}
		prev = e.Hash
	}
	var w io.Writer = os.Stdout
	if out != "" && out != "-" {
		f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) //nolint:gosec // operator-chosen path
		if err != nil {
			return 0, 0, err
		}
		defer func() { _ = f.Close() }()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	hdr, _ := json.Marshal(exportHeader{Format: exportFormat, Version: 1, Stream: conn.Stream, FromSeq: from, ToSeq: to,
		PrevHash: prev, ExportedAt: time.Now().UTC(), PublicKeys: keys.Keys()})
	_, _ = bw.Write(append(hdr, '\n'))
	var n uint64
	if to >= from && last > 0 {
		src, stop, err := conn.Reader.Range(ctx, from, to)
		if err != nil {
			return 0, 0, err
		}
		defer stop()
		p := newProgress(to-from+1, "export")
		for {
			it, err := src(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return n, 0, err
			}
			_, _ = bw.Write(it.Raw)
			if err := bw.WriteByte('\n'); err != nil {
				return n, 0, err
			}
			n++
			if n%1024 == 0 {
				p.set(n)
			}
		}
		p.finish()
	}
	if err := bw.Flush(); err != nil {
		return n, 0, err
	}
	return n, time.Since(start), nil
}
