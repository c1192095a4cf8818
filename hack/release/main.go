// Command release builds mqtt-operator's release artifacts from binaries that
// `make` has already compiled (static, stamped; see the Makefile), and sets
// the version in the tree for the release commit:
//
//	release prepare --version v0.2.0 --repo-root .
//	release image   --version v0.2.0 --commit … --date … --bin-dir bin/release --out dist/mqtt-operator-image.tar
//	release release --version v0.2.0 --commit … --date … --bin-dir bin/release --repo-root . --dist dist
//
// `prepare` writes the version into the chart and config/manager. `image` packs the linux managers into one multi-platform OCI image, written
// as an OCI layout tarball. `release` writes every artifact of a release into
// --dist: the image, install.yaml, the CRDs, the packaged Helm chart, the
// kubectl-mqtt archives with their krew manifest, and checksums.txt.
//
// Nothing here contacts a registry or a daemon. The same inputs give the
// same bytes: every timestamp is --date, the commit's time.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Defaults of the published release.
const (
	defaultRepository = "ghcr.io/mqttoperator/mqtt-operator"
	defaultSource     = "https://github.com/mqttoperator/mqtt-operator"
)

// build is what every artifact is stamped with.
type build struct {
	// Version is the release, a tag: v0.2.0 or v0.2.0-rc.1 for a release,
	// anything a tag allows for `make image`.
	Version string
	// Commit is the Git commit the binaries were built from.
	Commit string
	// Date is the commit's time; every file and image timestamp uses it.
	Date time.Time
	// Repository is where the image is pushed, without a tag.
	Repository string
	// Source is the project's home, for labels and download URLs.
	Source string
	// BinDir holds <os>_<arch>/manager and <os>_<arch>/kubectl-mqtt.
	BinDir string
	// ImagePlatforms are the image's platforms, in the index's order.
	ImagePlatforms []platform
	// PluginPlatforms get a kubectl-mqtt archive each.
	PluginPlatforms []platform
}

// imageRef is the image's full reference, e.g. ghcr.io/mqttoperator/mqtt-operator:v0.2.0.
func (b build) imageRef() string { return b.Repository + ":" + b.Version }

// semverTag is a release version: v, SemVer 2 without build metadata (a
// Helm chart's version and an image tag must both be able to carry it).
var semverTag = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string, log io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a command: prepare, image or release")
	}
	switch args[0] {
	case "prepare", "image", "release":
	default:
		return fmt.Errorf("unknown command %q: want prepare, image or release", args[0])
	}
	fs := flag.NewFlagSet("release "+args[0], flag.ContinueOnError)
	var b build
	var date string
	fs.StringVar(&b.Version, "version", "", "Version, also the image tag (required).")
	fs.StringVar(&b.Commit, "commit", "", "Git commit the binaries were built from (required).")
	fs.StringVar(&date, "date", "", "Commit time, RFC 3339 (required).")
	fs.StringVar(&b.Repository, "repository", defaultRepository, "Image repository, without a tag.")
	fs.StringVar(&b.Source, "source", defaultSource, "Project URL for labels and download links.")
	fs.StringVar(&b.BinDir, "bin-dir", "", "Directory of <os>_<arch>/ binaries (required).")
	imagePlatforms := fs.String("image-platforms", "", "Platforms of the image, space-separated os/arch (required).")
	pluginPlatforms := fs.String("plugin-platforms", "", "release: platforms of the kubectl-mqtt archives, space-separated os/arch (required).")
	out := fs.String("out", "", "image: the OCI layout tarball to write.")
	repoRoot := fs.String("repo-root", ".", "prepare, release: the repository's root.")
	dist := fs.String("dist", "", "release: the directory to write; replaced as a whole on success.")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if args[0] == "prepare" {
		if err := checkReleaseVersion(b.Version); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		return prepare(b.Version, *repoRoot, log)
	}
	var err error
	if b.ImagePlatforms, err = parsePlatforms(*imagePlatforms); err != nil {
		return fmt.Errorf("--image-platforms: %w", err)
	}
	if args[0] == "release" {
		if b.PluginPlatforms, err = parsePlatforms(*pluginPlatforms); err != nil {
			return fmt.Errorf("--plugin-platforms: %w", err)
		}
	}
	if err := b.complete(date); err != nil {
		return err
	}
	if args[0] == "image" {
		if *out == "" {
			return errors.New("image: --out is required")
		}
		return writeImageFile(b, *out)
	}
	if *dist == "" {
		return errors.New("release: --dist is required")
	}
	if err := checkReleaseVersion(b.Version); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return release(b, *repoRoot, *dist, log)
}

// checkReleaseVersion fails unless v is a release version (semverTag).
func checkReleaseVersion(v string) error {
	if !semverTag.MatchString(v) {
		return fmt.Errorf("--version %q is not a release version like v0.2.0 or v0.2.0-rc.1", v)
	}
	return nil
}

// complete checks the flags every command needs and parses the date.
func (b *build) complete(date string) error {
	if b.Version == "" || b.Commit == "" || date == "" || b.BinDir == "" {
		return errors.New("--version, --commit, --date and --bin-dir are required")
	}
	t, err := time.Parse(time.RFC3339, date)
	if err != nil {
		return fmt.Errorf("--date: %w", err)
	}
	b.Date = t.UTC()
	if _, err := name.NewTag(b.imageRef(), name.StrictValidation); err != nil {
		return fmt.Errorf("image reference %q: %w", b.imageRef(), err)
	}
	abs, err := filepath.Abs(b.BinDir)
	if err != nil {
		return err
	}
	b.BinDir = abs
	return nil
}

// binary is the path of a compiled binary for a platform.
func (b build) binary(p platform, name string) string {
	return filepath.Join(b.BinDir, p.OS+"_"+p.Arch, name)
}

// platform is an OS and CPU architecture, as Go and OCI both name them.
type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// parsePlatforms reads "os/arch os/arch …".
func parsePlatforms(s string) ([]platform, error) {
	var ps []platform
	for _, f := range strings.Fields(s) {
		goos, arch, ok := strings.Cut(f, "/")
		if !ok || goos == "" || arch == "" || strings.Contains(arch, "/") {
			return nil, fmt.Errorf("%q is not os/arch", f)
		}
		ps = append(ps, platform{OS: goos, Arch: arch})
	}
	if len(ps) == 0 {
		return nil, errors.New("no platform")
	}
	return ps, nil
}
