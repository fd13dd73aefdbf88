package datachannel

// Payloads of client messages, decoded strictly (unknown fields are errors). Amounts
// are integers in minor currency units; durations are milliseconds.

type chatSend struct {
	Text string `json:"text"`
}

type chatRef struct {
	MessageID string `json:"messageId"`
}

type chatMute struct {
	Identity string `json:"identity"`
	Seconds  int    `json:"seconds"` // 0 unmutes
}

type chatIdentity struct {
	Identity string `json:"identity"`
}

type chatSlow struct {
	Seconds int `json:"seconds"` // 0 turns slow mode off
}

type pollOpen struct {
	PollID     string   `json:"pollId"`
	Question   string   `json:"question"`
	Options    []string `json:"options"`
	DurationMs int64    `json:"durationMs"`
}

type pollVote struct {
	PollID string `json:"pollId"`
	Option int    `json:"option"`
}

type pollRef struct {
	PollID string `json:"pollId"`
}

type qnaAsk struct {
	Text string `json:"text"`
}

type qnaRef struct {
	QuestionID string `json:"questionId"`
	Text       string `json:"text,omitempty"` // qna.answer only
}

type auctionOpen struct {
	LotID         string `json:"lotId"`
	Title         string `json:"title"`
	StartPrice    int64  `json:"startPrice"`
	Increment     int64  `json:"increment"`
	Reserve       int64  `json:"reserve"`
	DurationMs    int64  `json:"durationMs"`
	SnipeWindowMs int64  `json:"snipeWindowMs"`
	SnipeExtendMs int64  `json:"snipeExtendMs"`
}

type auctionBid struct {
	LotID  string `json:"lotId"`
	BidID  string `json:"bidId"`
	Amount int64  `json:"amount"`
}

type lotRef struct {
	LotID string `json:"lotId"`
}

type giftSend struct {
	Key      string `json:"key"`
	Gift     string `json:"gift"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Message  string `json:"message"`
}

type alertShow struct {
	Kind       string `json:"kind"`
	Text       string `json:"text"`
	DurationMs int64  `json:"durationMs"`
}
