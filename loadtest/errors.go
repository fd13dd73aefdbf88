package loadtest

import "errors"

// ErrNothingMeasured is a run in which no session connected: its figures describe nothing,
// so `glint loadtest` exits non-zero rather than print a table of zeros.
var ErrNothingMeasured = errors.New("loadtest: no session connected, nothing was measured")
