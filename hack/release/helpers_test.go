package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// The release every test looks at: `make release` with fixed stamps, so the
// cross-compiled binaries in bin/release-test are relinked only when the
// code changes.
const (
	testVersion = "v0.2.0"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
	testDate    = "2026-01-02T03:04:05Z"
	testRef     = defaultRepository + ":" + testVersion
)

var repoRoot = func() string {
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return abs
}()

// releaseBin is where `make release` cross-compiles for the tests.
var releaseBin = filepath.Join(repoRoot, "bin", "release-test")

var (
	releaseOnce sync.Once
	releaseDist string
	releaseErr  error
)

// releaseDir runs `make release` once per test binary into a temporary
// directory and returns it.
func releaseDir(t *testing.T) string {
	t.Helper()
	releaseOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "mqtt-operator-release-test-")
		if err != nil {
			releaseErr = err
			return
		}
		releaseDist = filepath.Join(tmp, "dist")
		// Cold, this cross-compiles the operator for four platforms.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		start := time.Now()
		cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "-C", repoRoot, "release",
			"VERSION="+testVersion, "COMMIT="+testCommit, "DATE="+testDate,
			"DIST="+releaseDist, "RELEASE_BIN="+releaseBin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			releaseErr = fmt.Errorf("make release: %w\n%s", err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "make release took %s\n", time.Since(start).Round(100*time.Millisecond))
	})
	if releaseErr != nil {
		t.Fatal(releaseErr)
	}
	return releaseDist
}

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // envtest logs through it
	code := m.Run()
	if releaseDist != "" {
		_ = os.RemoveAll(filepath.Dir(releaseDist))
	}
	os.Exit(code)
}

// tarFile is one entry of an archive read by a test.
type tarFile struct {
	Header *tar.Header
	Data   []byte
}

// readTar reads every entry of an uncompressed (or, with gz, gzip-compressed) tar.
func readTar(t *testing.T, r io.Reader, gz bool) (map[string]tarFile, []string) {
	t.Helper()
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	files := map[string]tarFile{}
	var order []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, order
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := files[h.Name]; dup {
			t.Errorf("duplicate tar entry %s", h.Name)
		}
		files[h.Name] = tarFile{Header: h, Data: data}
		order = append(order, h.Name)
	}
}

func readTarGzFile(t *testing.T, path string) map[string]tarFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := readTar(t, bytes.NewReader(data), true)
	return files
}

// checkStaticELF fails unless bin is a static Linux executable for arch: no
// program interpreter (the dynamic loader) and no dynamic section.
func checkStaticELF(t *testing.T, what string, bin []byte, arch string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Errorf("%s is not ELF: %v", what, err)
		return
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != want {
		t.Errorf("%s is for %v, want %v (%s)", what, f.Machine, want, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked: it has a %v program header", what, p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Errorf("%s has a .dynamic section", what)
	}
}

// runBinary writes bin to a temporary file and runs it with args, with an
// empty environment and HOME, for at most a minute.
func runBinary(t *testing.T, bin []byte, args ...string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// hostCanRun reports whether this machine runs linux/arch binaries natively.
func hostCanRun(arch string) bool { return runtime.GOOS == "linux" && runtime.GOARCH == arch }
