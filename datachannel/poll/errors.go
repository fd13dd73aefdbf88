package poll

import "errors"

var (
	// ErrInvalidSpec: the poll cannot be opened as described.
	ErrInvalidSpec = errors.New("poll: invalid poll")
	// ErrClosed: the poll has closed; votes are final.
	ErrClosed = errors.New("poll: closed")
	// ErrInvalidVote: no voter, or the option is not one of the poll's.
	ErrInvalidVote = errors.New("poll: invalid vote")
)
