package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

func versionCommand() *command {
	return &command{
		name:    "version",
		args:    "",
		summary: "print the version, VCS revision and Go version of this binary",
		help: `Version prints what this binary was built from, as the Go toolchain stamped
it: the module version ("(devel)" for a build from a source tree that is not
a tagged module version), the VCS revision and its commit time, "modified"
if the tree had uncommitted changes ("unknown" when the build recorded no
VCS information: -buildvcs=false, or a tree outside version control), and
the Go version and platform. 'discret --version' prints the same.`,
		noArgs: true,
		run: func(_ context.Context, e *env, _ []string) error {
			bi, ok := debug.ReadBuildInfo()
			printVersion(e.stdout, bi, ok)
			return nil
		},
	}
}

// printVersion writes the version of `discret version` from the build
// information bi (ok false: none was recorded).
func printVersion(w io.Writer, bi *debug.BuildInfo, ok bool) {
	version, goVersion := "", runtime.Version()
	settings := map[string]string{}
	if ok {
		version, goVersion = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	if version == "" {
		version = "(devel)"
	}
	const unknown = "unknown (not recorded in this build)"
	revision := settings["vcs.revision"]
	switch {
	case revision == "":
		revision = unknown
	case settings["vcs.modified"] == "true":
		revision += " (modified: built with uncommitted changes)"
	}
	at := settings["vcs.time"]
	if at == "" {
		at = unknown
	}
	fmt.Fprintf(w, "discret %s\n  revision  %s\n  time      %s\n  go        %s %s/%s\n",
		strings.TrimSpace(version), revision, at, goVersion, runtime.GOOS, runtime.GOARCH)
}
