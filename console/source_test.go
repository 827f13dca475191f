package console_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// sourceHash hashes what the console is built from, relative to the
// repository root: every file under ui/ except ui/node_modules, and
// docs/telemetry.md (the preview's explanations). ui/build.mjs computes
// the same hash into dist/manifest.json, so a test can tell a stale build
// without npm: for each path in byte order, "path\nsha256(content)\n",
// all hashed with SHA-256.
func sourceHash(root string) (string, error) {
	paths := []string{"docs/telemetry.md"}
	err := filepath.WalkDir(filepath.Join(root, "ui"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() && rel == "ui/node_modules" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			paths = append(paths, rel)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	slices.Sort(paths)
	var b strings.Builder
	for _, p := range paths {
		content, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(content)
		b.WriteString(p + "\n" + hex.EncodeToString(sum[:]) + "\n")
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:]), nil
}
