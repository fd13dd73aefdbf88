package main

import (
	"fmt"
	"runtime/debug"
)

// version describes the build from what the Go toolchain stamped into it: the module's
// version (a tag with `go install ...@vX`, "(devel)" from a checkout), the commit and its
// time, whether the tree had uncommitted changes, and the Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "glint (no build information)"
	}
	v := "glint " + bi.Main.Version
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " with uncommitted changes"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(", commit %.12s (%s)%s", rev, at, dirty)
	}
	return v + ", " + bi.GoVersion
}
