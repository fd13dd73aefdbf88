package qna

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glintlive/glint/datachannel/usertext"
)

// Status of a question.
const (
	StatusOpen      = "open"
	StatusAnswered  = "answered"
	StatusDismissed = "dismissed"
)

// Config bounds a board.
type Config struct {
	MaxTextLen      int // bytes, questions and answers
	MaxQuestions    int // on the board, any status; the oldest closed ones go first
	MaxOpenPerAsker int // open questions one identity may have
}

// DefaultConfig is what rooms use.
func DefaultConfig() Config { return Config{MaxTextLen: 500, MaxQuestions: 500, MaxOpenPerAsker: 3} }

// Question is one question's public state.
type Question struct {
	ID      string `json:"questionId"`
	Asker   string `json:"asker"`
	Text    string `json:"text"`
	Votes   int    `json:"votes"`
	Status  string `json:"status"`
	Answer  string `json:"answer,omitempty"`
	AskedAt int64  `json:"askedAt"` // unix ms
}

type entry struct {
	Question // Votes: this board's voters and the other nodes'
	voters   map[string]bool
	others   map[string]int // node -> its voters (merge.go)
	// ours: this board has something to report about the question (asked, upvoted,
	// answered or dismissed here); due: it changed here since the last report;
	// closedBeats: heartbeats that repeated it closed (merge.go).
	ours, due   bool
	closedBeats int
}

// Board is a room's Q&A. Not safe for concurrent use.
type Board struct {
	cfg    Config
	prefix string
	next   int
	byID   map[string]*entry
	order  []*entry // by time asked
}

// New returns an empty board.
func New(cfg Config) *Board { return &Board{cfg: cfg, byID: map[string]*entry{}} }

// SetIDPrefix makes question ids prefix+"q"+number. Nodes sharing a room give each board
// its own prefix so ids never collide.
func (b *Board) SetIDPrefix(prefix string) { b.prefix = prefix }

// Ask puts a question on the board and returns it. The board assigns the id.
func (b *Board) Ask(now time.Time, asker, text string) (Question, error) {
	if err := usertext.Check(text, usertext.Lines); err != nil {
		return Question{}, fmt.Errorf("%w: question: %w", ErrInvalid, err)
	}
	text = strings.TrimSpace(text)
	if asker == "" || text == "" || len(text) > b.cfg.MaxTextLen {
		return Question{}, fmt.Errorf("%w: a question is 1..%d bytes", ErrInvalid, b.cfg.MaxTextLen)
	}
	open := 0
	for _, e := range b.order {
		if e.Asker == asker && e.Status == StatusOpen {
			open++
		}
	}
	if open >= b.cfg.MaxOpenPerAsker {
		return Question{}, fmt.Errorf("%w: at most %d open questions each", ErrInvalid, b.cfg.MaxOpenPerAsker)
	}
	if len(b.order) >= b.cfg.MaxQuestions && !b.evictClosed() {
		return Question{}, fmt.Errorf("%w: the board is full", ErrInvalid)
	}
	b.next++
	e := &entry{Question: Question{ID: b.prefix + "q" + strconv.Itoa(b.next), Asker: asker, Text: text,
		Status: StatusOpen, AskedAt: now.UnixMilli()}, voters: map[string]bool{}, ours: true, due: true}
	b.add(e)
	return e.Question, nil
}

func (b *Board) add(e *entry) {
	b.byID[e.ID] = e
	b.order = append(b.order, e)
}

// evictClosed drops the oldest answered or dismissed question to make room.
func (b *Board) evictClosed() bool {
	for i, e := range b.order {
		if e.Status != StatusOpen {
			delete(b.byID, e.ID)
			b.order = slices.Delete(b.order, i, i+1)
			return true
		}
	}
	return false
}

// Upvote adds identity's vote to an open question. Voting twice is not an error and
// changes nothing; changed says whether it counted.
func (b *Board) Upvote(identity, id string) (q Question, changed bool, err error) {
	e, err := b.open(id)
	if err != nil {
		return Question{}, false, err
	}
	switch {
	case identity == "":
		return Question{}, false, fmt.Errorf("%w: no identity", ErrInvalid)
	case identity == e.Asker:
		return Question{}, false, ErrOwnQuestion
	case e.voters[identity]:
		return e.Question, false, nil
	}
	e.voters[identity] = true
	e.Votes++
	e.ours, e.due = true, true
	return e.Question, true, nil
}

// Answer marks an open question answered, with an optional answer text (the host may
// answer on camera).
func (b *Board) Answer(id, answer string) (Question, error) {
	e, err := b.open(id)
	if err != nil {
		return Question{}, err
	}
	if err := usertext.Check(answer, usertext.Lines); err != nil {
		return Question{}, fmt.Errorf("%w: answer: %w", ErrInvalid, err)
	}
	answer = strings.TrimSpace(answer)
	if len(answer) > b.cfg.MaxTextLen {
		return Question{}, fmt.Errorf("%w: an answer is at most %d bytes", ErrInvalid, b.cfg.MaxTextLen)
	}
	e.Status, e.Answer = StatusAnswered, answer
	e.ours, e.due = true, true
	return e.Question, nil
}

// Dismiss takes an open question off the board: the host may dismiss any, an asker their own.
func (b *Board) Dismiss(identity string, admin bool, id string) (Question, error) {
	e, err := b.open(id)
	if err != nil {
		return Question{}, err
	}
	if !admin && identity != e.Asker {
		return Question{}, ErrForbidden
	}
	e.Status = StatusDismissed
	e.ours, e.due = true, true
	return e.Question, nil
}

func (b *Board) open(id string) (*entry, error) {
	e, ok := b.byID[id]
	if !ok {
		return nil, ErrNotFound
	}
	if e.Status != StatusOpen {
		return nil, ErrNotOpen
	}
	return e, nil
}

// List returns open questions by votes (most first, then oldest first), followed by
// answered ones, newest first. Dismissed questions are not listed.
func (b *Board) List() []Question {
	var open, answered []Question
	for _, e := range b.order {
		switch e.Status {
		case StatusOpen:
			open = append(open, e.Question)
		case StatusAnswered:
			answered = append(answered, e.Question)
		}
	}
	slices.SortStableFunc(open, func(x, y Question) int { return cmp.Compare(y.Votes, x.Votes) })
	slices.Reverse(answered)
	return append(open, answered...)
}
