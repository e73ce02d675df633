// Package fingerprint computes artifact fingerprints the way the Kosli CLI
// does (`kosli fingerprint`), offline: a file's is the SHA-256 of its bytes and
// a directory's is the SHA-256 of a string built from a sorted pre-order walk
// of its tree (docs: kosli-wire.md §7).
package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// IgnoreFile is the file at the top of a directory whose lines add exclude
// patterns, as Kosli's .kosli_ignore does.
const IgnoreFile = ".kosli_ignore"

// Artifact types accepted by Path.
const (
	TypeFile   = "file"
	TypeDir    = "dir"
	TypeDocker = "docker"
	TypeOCI    = "oci"
)

var (
	// ErrNotOffline is returned for artifact types whose fingerprint only a
	// Docker daemon or an image registry can give (docker, oci).
	ErrNotOffline = errors.New("artifact type needs a Docker daemon or an image registry and is not supported offline")
	// ErrUnknownType is returned for an artifact type that is none of file,
	// dir, docker or oci.
	ErrUnknownType = errors.New("unknown artifact type")
)

// Path fingerprints path as artifactType: "file", "dir", or "" to choose dir
// when path is a directory and file otherwise. excludes apply to directories
// only. "docker" and "oci" return ErrNotOffline.
func Path(p, artifactType string, excludes []string) (string, error) {
	switch artifactType {
	case TypeFile:
		return File(p)
	case TypeDir:
		return Dir(p, excludes)
	case "":
		info, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("fingerprint %s: %w", p, err)
		}
		if info.IsDir() {
			return Dir(p, excludes)
		}
		return File(p)
	case TypeDocker, TypeOCI:
		return "", fmt.Errorf("%s: %w", artifactType, ErrNotOffline)
	default:
		return "", fmt.Errorf("%w %q: want file, dir, docker or oci", ErrUnknownType, artifactType)
	}
}

// File returns the lowercase hex SHA-256 of the file's bytes (what sha256sum
// prints). Symbolic links are followed.
func File(p string) (string, error) {
	f, err := os.Open(p) //nolint:gosec // reading the artifact the caller named is the point
	if err != nil {
		return "", fmt.Errorf("fingerprint file: %w", err)
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("fingerprint file: %w", err)
	}
	if info.IsDir() {
		return "", fmt.Errorf("fingerprint file: %s is a directory (use artifact type dir)", p)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("fingerprint file %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Dir returns Kosli's fingerprint of the directory p. Its entries are walked
// depth first, pre-order, each directory's names in byte order, the top
// directory itself left out. Every entry adds the hex SHA-256 of its base
// name; a file (or a symbolic link to one) then adds the hex SHA-256 of its
// content, and a symbolic link to a directory the hex SHA-256 of the link
// text (it is not descended into). The result is the hex SHA-256 of all those
// hex strings concatenated.
//
// excludes are doublestar glob patterns relative to p; a matching entry is
// left out, a directory with its whole subtree. Patterns listed in p's
// IgnoreFile (one a line, text after # dropped, blank lines skipped) are
// added to them. The ignore file itself is hashed unless a pattern matches it.
func Dir(p string, excludes []string) (string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("fingerprint dir: %w", err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("fingerprint dir: %s is not a directory", p)
	}
	ignored, err := readIgnoreFile(filepath.Join(p, IgnoreFile))
	if err != nil {
		return "", err
	}
	patterns, err := relativePatterns(p, append(append([]string(nil), excludes...), ignored...))
	if err != nil {
		return "", err
	}
	w := walker{out: sha256.New(), patterns: patterns}
	if err := w.walk(p, ""); err != nil {
		return "", err
	}
	return hex.EncodeToString(w.out.Sum(nil)), nil
}

// walker streams the hex digests of a walk into out, which stands for the
// long concatenated string Kosli hashes.
type walker struct {
	out      hash.Hash
	patterns []string
}

func (w *walker) walk(dir, rel string) error {
	entries, err := os.ReadDir(dir) // sorted by name, byte-wise
	if err != nil {
		return fmt.Errorf("fingerprint dir: %w", err)
	}
	for _, e := range entries {
		full := filepath.Join(dir, e.Name())
		relPath := path.Join(rel, e.Name())
		if w.excluded(relPath) {
			continue
		}
		w.writeDigest(sha256.Sum256([]byte(e.Name())))
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			err = w.symlink(full)
		case e.IsDir():
			err = w.walk(full, relPath)
		case e.Type().IsRegular():
			err = w.content(full)
		default:
			err = fmt.Errorf("fingerprint dir: %s is not a regular file, directory or symbolic link", full)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// symlink adds what a symbolic link contributes: the content digest of the
// file it points to, or the digest of its link text if it points to a
// directory.
func (w *walker) symlink(full string) error {
	target, err := os.Stat(full)
	if err != nil {
		return fmt.Errorf("fingerprint dir: symbolic link: %w", err)
	}
	if !target.IsDir() {
		return w.content(full)
	}
	text, err := os.Readlink(full)
	if err != nil {
		return fmt.Errorf("fingerprint dir: %w", err)
	}
	w.writeDigest(sha256.Sum256([]byte(text)))
	return nil
}

func (w *walker) content(full string) error {
	sum, err := File(full)
	if err != nil {
		return err
	}
	_, _ = io.WriteString(w.out, sum) // hash.Hash writes never fail
	return nil
}

func (w *walker) writeDigest(sum [sha256.Size]byte) {
	var buf [2 * sha256.Size]byte
	hex.Encode(buf[:], sum[:])
	_, _ = w.out.Write(buf[:]) // hash.Hash writes never fail
}

func (w *walker) excluded(relPath string) bool {
	for _, p := range w.patterns {
		if doublestar.MatchUnvalidated(p, relPath) {
			return true
		}
	}
	return false
}

// relativePatterns turns exclude patterns into slash-separated patterns
// relative to dir, resolved as Kosli resolves them (joined to the directory
// and cleaned, so "./sub/", "/sub" and "sub" are the same). Patterns that
// point at dir itself or outside it can match nothing in the walk and are
// dropped; malformed patterns are an error.
func relativePatterns(dir string, patterns []string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fingerprint dir: %w", err)
	}
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		rel, err := filepath.Rel(abs, filepath.Join(abs, p))
		if err != nil {
			return nil, fmt.Errorf("fingerprint dir: exclude %q: %w", p, err)
		}
		rel = filepath.ToSlash(rel)
		if rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		if !doublestar.ValidatePattern(rel) {
			return nil, fmt.Errorf("fingerprint dir: exclude %q: %w", p, doublestar.ErrBadPattern)
		}
		out = append(out, rel)
	}
	return out, nil
}

// readIgnoreFile returns the patterns of an ignore file: one a line, text
// after # dropped, surrounding space trimmed, blank lines skipped. A missing
// ignore file (or a directory by that name) gives none.
func readIgnoreFile(p string) ([]string, error) {
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fingerprint dir: ignore file: %w", err)
	}
	if info.IsDir() {
		return nil, nil
	}
	data, err := os.ReadFile(p) //nolint:gosec // the ignore file of the directory the caller named
	if err != nil {
		return nil, fmt.Errorf("fingerprint dir: ignore file: %w", err)
	}
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line != "" {
			patterns = append(patterns, line)
		}
	}
	return patterns, nil
}
