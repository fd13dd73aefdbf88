package qna

import (
	"fmt"

	"github.com/glintlive/glint/datachannel/usertext"
)

// Boards on several nodes serving one room share their questions by reports: each board
// reports the questions it has something to say about, with its own voters only (Reports),
// and merges the other boards' (Merge). A question's votes are its board's voters plus the
// latest count each other node reported; its status only moves on, from open to
// dismissed or answered, and two boards that closed it differently at once settle on the
// same one (answered over dismissed, then the greater answer text), so every board ends
// alike whatever order the reports came in.

// ReportScope says which questions Reports returns, of those this board has something to
// say about.
type ReportScope int

const (
	// Changed: those changed here since the last report.
	Changed ReportScope = iota
	// Heartbeat: those, every open one, and each closed one for its first ClosedRepeats
	// heartbeats, so that a close lost on the way is told again.
	Heartbeat
	// Everything: every one (a board that just started asks for it).
	Everything
)

// ClosedRepeats is how many heartbeats repeat a question after it closed.
const ClosedRepeats = 6

// Reports returns the questions of scope with this board's own votes, and clears their
// changed marks.
func (b *Board) Reports(scope ReportScope) []Question {
	var out []Question
	for _, e := range b.order {
		if !e.ours {
			continue
		}
		repeat := false
		switch scope {
		case Heartbeat:
			if repeat = e.Status == StatusOpen; !repeat && e.closedBeats < ClosedRepeats {
				repeat = true
				e.closedBeats++
			}
		case Everything:
			repeat = true
		}
		if !e.due && !repeat {
			continue
		}
		q := e.Question
		q.Votes = len(e.voters)
		out = append(out, q)
		e.due = false
	}
	return out
}

// Merge applies another node's report of a question: a question asked there is added, its
// node's votes replace that node's earlier count, a close there closes it here. It returns
// the question as it now stands here, and whether that changed.
func (b *Board) Merge(node string, q Question) (Question, bool, error) {
	if err := b.checkReport(q); err != nil {
		return Question{}, false, err
	}
	e, ok := b.byID[q.ID]
	if !ok {
		if len(b.order) >= b.cfg.MaxQuestions && !b.evictClosed() {
			return Question{}, false, fmt.Errorf("%w: the board is full", ErrInvalid)
		}
		e = &entry{Question: Question{ID: q.ID, Asker: q.Asker, Text: q.Text, Status: StatusOpen, AskedAt: q.AskedAt},
			voters: map[string]bool{}}
		b.add(e)
	}
	before := e.Question
	if e.others == nil {
		e.others = map[string]int{}
	}
	e.Votes += q.Votes - e.others[node]
	e.others[node] = q.Votes
	if later(q, e.Question) {
		e.Status, e.Answer = q.Status, q.Answer
	}
	return e.Question, e.Question != before || !ok, nil
}

// later reports whether status q settles over cur: closed over open, answered over
// dismissed, then the greater answer.
func later(q, cur Question) bool {
	if rq, rc := statusRank[q.Status], statusRank[cur.Status]; rq != rc {
		return rq > rc
	}
	return q.Status == StatusAnswered && q.Answer > cur.Answer
}

var statusRank = map[string]int{StatusOpen: 0, StatusDismissed: 1, StatusAnswered: 2}

// checkReport refuses a report no board could have made.
func (b *Board) checkReport(q Question) error {
	switch {
	case q.ID == "" || len(q.ID) > 64 || q.Asker == "" || q.Text == "" || len(q.Text) > b.cfg.MaxTextLen ||
		len(q.Answer) > b.cfg.MaxTextLen:
		return fmt.Errorf("%w: a reported question is malformed", ErrInvalid)
	case q.Votes < 0 || q.Votes > 100_000_000:
		return fmt.Errorf("%w: %d votes", ErrInvalid, q.Votes)
	case q.Status != StatusOpen && q.Status != StatusAnswered && q.Status != StatusDismissed:
		return fmt.Errorf("%w: status %q", ErrInvalid, q.Status)
	}
	if usertext.Check(q.Text, usertext.Lines) != nil || usertext.Check(q.Answer, usertext.Lines) != nil {
		return fmt.Errorf("%w: a reported question's text is not clean", ErrInvalid)
	}
	return nil
}
