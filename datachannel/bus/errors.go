package bus

import "errors"

var (
	// ErrConflict: Append's expected last sequence did not match; another writer appended
	// first. Replay from the last sequence you know and try again.
	ErrConflict = errors.New("bus: expected last sequence does not match")
	// ErrClosed: the bus is closed.
	ErrClosed = errors.New("bus: closed")
	// ErrInvalid: a subject or argument the bus cannot use.
	ErrInvalid = errors.New("bus: invalid argument")
)
