package fingerprint_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/factstore/factstore/cmd/factstore/fingerprint"
)

// The values kosli-wire.md §7 gives for the dist/ fixture.
const (
	fixtureFP       = "78252a22446a71093c74e2584195b3f261df7912acbc65f38747cb7460613f45"
	fixtureNoSubFP  = "c3038711d4c15caef8732e5ccf9e4d47b6e48dca8ab23483b9eda3a709eb68a3"
	sha256OfA       = "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7" // sha256("a\n")
	sha256OfNothing = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// hx is the lowercase hex SHA-256 of s.
func hx(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// want spells out the expected fingerprint independently of the code under
// test: the hex SHA-256 of the concatenated parts.
func want(parts ...string) string {
	var s string
	for _, p := range parts {
		s += p
	}
	return hx(s)
}

// file is one entry of a test tree: a file with content, an empty directory
// (dir true) or a symbolic link (link set).
type file struct {
	path    string
	content string
	dir     bool
	link    string
}

// build creates the entries under a fresh directory, in the order given.
func build(t *testing.T, entries ...file) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "dist")
	require.NoError(t, os.MkdirAll(root, 0o755))
	for _, e := range entries {
		p := filepath.Join(root, filepath.FromSlash(e.path))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		switch {
		case e.dir:
			require.NoError(t, os.MkdirAll(p, 0o755))
		case e.link != "":
			require.NoError(t, os.Symlink(e.link, p))
		default:
			require.NoError(t, os.WriteFile(p, []byte(e.content), 0o600))
		}
	}
	return root
}

// fixture is dist/ with a.txt ("a\n") and sub/b.txt ("b\n").
func fixture(t *testing.T) string {
	t.Helper()
	return build(t, file{path: "a.txt", content: "a\n"}, file{path: "sub/b.txt", content: "b\n"})
}

func TestDir_fixture(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		excludes []string
		want     string
	}{
		{"no excludes", nil, fixtureFP},
		{"exclude sub", []string{"sub"}, fixtureNoSubFP},
		{"exclude sub with trailing slash", []string{"sub/"}, fixtureNoSubFP},
		{"exclude ./sub", []string{"./sub"}, fixtureNoSubFP},
		{"exclude nothing that exists", []string{"nope", "*.bin"}, fixtureFP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := fingerprint.Dir(fixture(t), tt.excludes)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDir_spelledOut(t *testing.T) {
	t.Parallel()
	// The fixture value, spelled out entry by entry.
	assert.Equal(t, fixtureFP, want(hx("a.txt"), hx("a\n"), hx("sub"), hx("b.txt"), hx("b\n")))
	assert.Equal(t, fixtureNoSubFP, want(hx("a.txt"), hx("a\n")))
}

func TestDir_trees(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		entries  []file
		excludes []string
		want     string
	}{
		{
			name:    "empty directory",
			entries: nil,
			want:    sha256OfNothing,
		},
		{
			name:    "empty subdirectory contributes its name",
			entries: []file{{path: "a.txt", content: "a\n"}, {path: "empty", dir: true}},
			want:    want(hx("a.txt"), hx("a\n"), hx("empty")),
		},
		{
			name:    "names sort byte-wise, upper case first",
			entries: []file{{path: "b", content: "1"}, {path: "B", content: "2"}, {path: "a", content: "3"}},
			want:    want(hx("B"), hx("2"), hx("a"), hx("3"), hx("b"), hx("1")),
		},
		{
			name:    "pre-order: a directory precedes its children, siblings after",
			entries: []file{{path: "z", content: "z"}, {path: "d/x", content: "x"}, {path: "d/e/y", content: "y"}},
			want:    want(hx("d"), hx("e"), hx("y"), hx("y"), hx("x"), hx("x"), hx("z"), hx("z")),
		},
		{
			name:    "symlink to a file hashes the target's content",
			entries: []file{{path: "a.txt", content: "a\n"}, {path: "l", link: "a.txt"}},
			want:    want(hx("a.txt"), hx("a\n"), hx("l"), hx("a\n")),
		},
		{
			name:    "symlink to a directory hashes the link text and is not descended",
			entries: []file{{path: "sub/b.txt", content: "b\n"}, {path: "l", link: "sub"}},
			want:    want(hx("l"), hx("sub"), hx("sub"), hx("b.txt"), hx("b\n")),
		},
		{
			name:    "symlink to a directory via ./ keeps the link text as written",
			entries: []file{{path: "sub/b.txt", content: "b\n"}, {path: "l", link: "./sub/"}},
			want:    want(hx("l"), hx("./sub/"), hx("sub"), hx("b.txt"), hx("b\n")),
		},
		{
			name:     "exclude a file",
			entries:  []file{{path: "a.txt", content: "a\n"}, {path: "sub/b.txt", content: "b\n"}},
			excludes: []string{"sub/b.txt"},
			want:     want(hx("a.txt"), hx("a\n"), hx("sub")),
		},
		{
			name:     "exclude by glob at the top only",
			entries:  []file{{path: "a.txt", content: "a\n"}, {path: "sub/b.txt", content: "b\n"}},
			excludes: []string{"*.txt"},
			want:     want(hx("sub"), hx("b.txt"), hx("b\n")),
		},
		{
			name:     "exclude by ** at any depth",
			entries:  []file{{path: "a.txt", content: "a\n"}, {path: "sub/b.txt", content: "b\n"}, {path: "sub/c.log", content: "c"}},
			excludes: []string{"**/*.txt"},
			want:     want(hx("sub"), hx("c.log"), hx("c")),
		},
		{
			name: "exclude a nested directory with ** skips its subtree",
			entries: []file{
				{path: "a.txt", content: "a\n"},
				{path: "x/node_modules/m/i.js", content: "i"},
				{path: "x/y/node_modules/j.js", content: "j"},
				{path: "x/y/k.js", content: "k"},
			},
			excludes: []string{"**/node_modules"},
			want:     want(hx("a.txt"), hx("a\n"), hx("x"), hx("y"), hx("k.js"), hx("k")),
		},
		{
			name:     "exclude a symlink",
			entries:  []file{{path: "a.txt", content: "a\n"}, {path: "l", link: "a.txt"}},
			excludes: []string{"l"},
			want:     want(hx("a.txt"), hx("a\n")),
		},
		{
			name: "ignore file adds patterns and is hashed",
			entries: []file{
				{path: ".kosli_ignore", content: "# build output\n\nsub   # nested\n  *.log\n"},
				{path: "a.txt", content: "a\n"},
				{path: "sub/b.txt", content: "b\n"},
				{path: "x.log", content: "x"},
			},
			want: want(hx(".kosli_ignore"), hx("# build output\n\nsub   # nested\n  *.log\n"), hx("a.txt"), hx("a\n")),
		},
		{
			name: "ignore file listing itself is not hashed",
			entries: []file{
				{path: ".kosli_ignore", content: ".kosli_ignore\r\nsub\r\n"},
				{path: "a.txt", content: "a\n"},
				{path: "sub/b.txt", content: "b\n"},
			},
			want: fixtureNoSubFP,
		},
		{
			name:     "ignore file and excludes add up",
			entries:  []file{{path: ".kosli_ignore", content: ".kosli_ignore\n"}, {path: "a.txt", content: "a\n"}, {path: "sub/b.txt", content: "b\n"}},
			excludes: []string{"sub"},
			want:     fixtureNoSubFP,
		},
		{
			name:    "ignore file below the top is an ordinary file",
			entries: []file{{path: "sub/.kosli_ignore", content: "b.txt\n"}, {path: "sub/b.txt", content: "b\n"}},
			want:    want(hx("sub"), hx(".kosli_ignore"), hx("b.txt\n"), hx("b.txt"), hx("b\n")),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := fingerprint.Dir(build(t, tt.entries...), tt.excludes)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDir_deterministic(t *testing.T) {
	t.Parallel()
	entries := []file{
		{path: "a.txt", content: "a\n"},
		{path: "sub/b.txt", content: "b\n"},
		{path: "sub/deeper/c", content: "c"},
		{path: "z/empty", dir: true},
		{path: "m", content: "m"},
	}
	reversed := make([]file, len(entries))
	for i, e := range entries {
		reversed[len(entries)-1-i] = e
	}
	first, err := fingerprint.Dir(build(t, entries...), nil)
	require.NoError(t, err)
	second, err := fingerprint.Dir(build(t, reversed...), nil)
	require.NoError(t, err)
	assert.Equal(t, first, second)
}

func TestDir_topDirectoryNameIgnored(t *testing.T) {
	t.Parallel()
	root := fixture(t)
	renamed := filepath.Join(filepath.Dir(root), "other-name")
	require.NoError(t, os.Rename(root, renamed))
	got, err := fingerprint.Dir(renamed, nil)
	require.NoError(t, err)
	assert.Equal(t, fixtureFP, got)
}

func TestDir_errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		path     func(t *testing.T) string
		excludes []string
	}{
		{"missing", func(t *testing.T) string { t.Helper(); return filepath.Join(t.TempDir(), "nope") }, nil},
		{"a file", func(t *testing.T) string { t.Helper(); return filepath.Join(fixture(t), "a.txt") }, nil},
		{"dangling symlink", func(t *testing.T) string { t.Helper(); return build(t, file{path: "l", link: "nowhere"}) }, nil},
		{"bad pattern", func(t *testing.T) string { t.Helper(); return fixture(t) }, []string{"[a-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := fingerprint.Dir(tt.path(t), tt.excludes)
			require.Error(t, err)
		})
	}
}

func TestFile(t *testing.T) {
	t.Parallel()
	root := fixture(t)
	got, err := fingerprint.File(filepath.Join(root, "a.txt"))
	require.NoError(t, err)
	assert.Equal(t, sha256OfA, got)

	_, err = fingerprint.File(root)
	require.ErrorContains(t, err, "is a directory")
	_, err = fingerprint.File(filepath.Join(root, "nope"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestPath(t *testing.T) {
	t.Parallel()
	root := fixture(t)
	aTxt := filepath.Join(root, "a.txt")
	tests := []struct {
		name     string
		path     string
		typ      string
		excludes []string
		want     string
		wantErr  error
	}{
		{name: "auto dir", path: root, want: fixtureFP},
		{name: "auto dir with excludes", path: root, excludes: []string{"sub"}, want: fixtureNoSubFP},
		{name: "auto file", path: aTxt, want: sha256OfA},
		{name: "dir", path: root, typ: "dir", want: fixtureFP},
		{name: "file", path: aTxt, typ: "file", want: sha256OfA},
		{name: "file ignores excludes", path: aTxt, typ: "file", excludes: []string{"a.txt"}, want: sha256OfA},
		{name: "auto missing", path: filepath.Join(root, "nope"), wantErr: os.ErrNotExist},
		{name: "docker", path: "alpine:3", typ: "docker", wantErr: fingerprint.ErrNotOffline},
		{name: "oci", path: "ghcr.io/x/y:1", typ: "oci", wantErr: fingerprint.ErrNotOffline},
		{name: "unknown", path: root, typ: "tarball", wantErr: fingerprint.ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := fingerprint.Path(tt.path, tt.typ, tt.excludes)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
