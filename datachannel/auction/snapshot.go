package auction

// Snapshot is a lot's public state, enough for a client that missed events to redraw it.
// The reserve amount stays secret; only whether there is one and whether it is met shows.
// HighBidder and HighAmount are always sent ("" and 0 before the first bid), as the
// protocol lists them: a client reading the state need not guess at a missing field.
type Snapshot struct {
	LotID      string `json:"lotId"`
	Title      string `json:"title,omitempty"`
	StartPrice int64  `json:"startPrice"`
	Increment  int64  `json:"increment"`
	HasReserve bool   `json:"hasReserve"`
	ReserveMet bool   `json:"reserveMet"`
	EndsAt     int64  `json:"endsAt"` // unix ms, after extensions
	Extensions int    `json:"extensions"`
	Open       bool   `json:"open"`
	Bids       int    `json:"bids"`
	HighBidder string `json:"highBidder"`
	HighAmount int64  `json:"highAmount"`
	MinNext    int64  `json:"minNext"`
	Winner     string `json:"winner,omitempty"`
	Sold       bool   `json:"sold"`
}

// Snapshot returns the lot's public state.
func (l *Lot) Snapshot() Snapshot {
	s := Snapshot{
		LotID: l.spec.LotID, Title: l.spec.Title, StartPrice: l.spec.StartPrice,
		Increment: l.spec.Increment, HasReserve: l.spec.Reserve > 0,
		EndsAt: l.endsAt.UnixMilli(), Extensions: l.extensions, Open: l.closed == nil,
		Bids: len(l.bids), MinNext: l.MinNext(),
	}
	if h, ok := l.High(); ok {
		s.HighBidder, s.HighAmount = h.Bidder, h.Amount
		s.ReserveMet = h.Amount >= l.spec.Reserve
	}
	if l.closed != nil && l.closed.Winner != nil {
		s.Winner, s.Sold = l.closed.Winner.Bidder, true
	}
	return s
}
