package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFingerprint runs `factstore fingerprint` on the kosli-wire.md §7 fixture
// (dist/a.txt "a\n", dist/sub/b.txt "b\n") and checks the values the Kosli CLI
// gives for it.
func TestFingerprint(t *testing.T) {
	t.Parallel()
	dist := filepath.Join(t.TempDir(), "dist")
	for name, content := range map[string]string{"a.txt": "a\n", "sub/b.txt": "b\n"} {
		p := filepath.Join(dist, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"dir, auto type", []string{"fingerprint", dist}, "78252a22446a71093c74e2584195b3f261df7912acbc65f38747cb7460613f45\n", 0},
		{"dir, explicit type", []string{"fingerprint", "--artifact-type", "dir", dist}, "78252a22446a71093c74e2584195b3f261df7912acbc65f38747cb7460613f45\n", 0},
		{"dir, -x sub", []string{"fingerprint", "-t", "dir", "-x", "sub", dist}, "c3038711d4c15caef8732e5ccf9e4d47b6e48dca8ab23483b9eda3a709eb68a3\n", 0},
		{"dir, --exclude sub", []string{"fingerprint", dist, "--exclude", "sub"}, "c3038711d4c15caef8732e5ccf9e4d47b6e48dca8ab23483b9eda3a709eb68a3\n", 0},
		{"file", []string{"fingerprint", "-t", "file", filepath.Join(dist, "a.txt")}, "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7\n", 0},
		{"docker is not offline", []string{"fingerprint", "-t", "docker", "alpine:3"}, "not supported offline", 1},
		{"no path", []string{"fingerprint"}, "accepts 1 arg", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, code := runCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tt.code, out)
			}
			if tt.code == 0 && out != tt.want {
				t.Fatalf("output %q, want %q", out, tt.want)
			}
			if tt.code != 0 && !strings.Contains(out, tt.want) {
				t.Fatalf("output %q does not mention %q", out, tt.want)
			}
		})
	}
}
