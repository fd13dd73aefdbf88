package qna

import "errors"

var (
	// ErrInvalid: empty or oversized text, bad id, or a board at its limit.
	ErrInvalid = errors.New("qna: invalid")
	// ErrNotFound: no such question.
	ErrNotFound = errors.New("qna: no such question")
	// ErrNotOpen: the question was already answered or dismissed.
	ErrNotOpen = errors.New("qna: question is not open")
	// ErrForbidden: only the host or the asker may do that.
	ErrForbidden = errors.New("qna: not allowed")
	// ErrOwnQuestion: askers cannot upvote their own question.
	ErrOwnQuestion = errors.New("qna: cannot upvote your own question")
)
