package auction

import "errors"

var (
	// ErrInvalidSpec: the lot cannot be opened as described.
	ErrInvalidSpec = errors.New("auction: invalid lot")
	// ErrClosed: the lot has ended; no more bids.
	ErrClosed = errors.New("auction: lot is closed")
	// ErrInvalidBid: the bid is malformed (no bidder, no id, amount out of range).
	ErrInvalidBid = errors.New("auction: invalid bid")
	// ErrTooLow: the amount is below the start price or the high bid plus the increment.
	ErrTooLow = errors.New("auction: bid too low")
	// ErrSellerBid: the identity that opened the lot may not bid on it.
	ErrSellerBid = errors.New("auction: the seller cannot bid on the lot")
	// ErrAlreadyHighest: the bidder already holds the high bid.
	ErrAlreadyHighest = errors.New("auction: already the highest bidder")
	// ErrBadRecord: a record does not apply to this lot (corrupt or foreign log).
	ErrBadRecord = errors.New("auction: record does not apply")
)
