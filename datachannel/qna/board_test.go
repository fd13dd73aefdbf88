package qna

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestBoard(t *testing.T) {
	type op struct {
		kind, who, id, text string
		admin               bool
		err                 error
		votes               int
		status              string
	}
	tests := []struct {
		name string
		ops  []op
		list []string // ids in List order
	}{
		{"ask and upvote", []op{
			{kind: "ask", who: "a", text: "why?", status: StatusOpen},
			{kind: "ask", who: "b", text: "how?", status: StatusOpen},
			{kind: "up", who: "c", id: "q2", votes: 1, status: StatusOpen},
			{kind: "up", who: "c", id: "q2", votes: 1, status: StatusOpen}, // second upvote: no change
			{kind: "up", who: "b", id: "q2", err: ErrOwnQuestion},
			{kind: "up", who: "c", id: "q9", err: ErrNotFound},
		}, []string{"q2", "q1"}},
		{"answer and dismiss", []op{
			{kind: "ask", who: "a", text: "one", status: StatusOpen},
			{kind: "ask", who: "a", text: "two", status: StatusOpen},
			{kind: "ask", who: "b", text: "three", status: StatusOpen},
			{kind: "answer", id: "q1", text: "yes", status: StatusAnswered},
			{kind: "answer", id: "q1", text: "again", err: ErrNotOpen},
			{kind: "up", who: "c", id: "q1", err: ErrNotOpen},
			{kind: "dismiss", who: "b", id: "q2", err: ErrForbidden}, // not b's question
			{kind: "dismiss", who: "a", id: "q2", status: StatusDismissed},
			{kind: "dismiss", who: "host", id: "q3", admin: true, status: StatusDismissed},
		}, []string{"q1"}},
		{"bad questions", []op{
			{kind: "ask", who: "a", text: "   ", err: ErrInvalid},
			{kind: "ask", who: "", text: "x", err: ErrInvalid},
			{kind: "ask", who: "a", text: strings.Repeat("x", 501), err: ErrInvalid},
			{kind: "ask", who: "a", text: "\xff", err: ErrInvalid},
		}, nil},
		{"open questions per asker are capped", []op{
			{kind: "ask", who: "a", text: "1", status: StatusOpen},
			{kind: "ask", who: "a", text: "2", status: StatusOpen},
			{kind: "ask", who: "a", text: "3", status: StatusOpen},
			{kind: "ask", who: "a", text: "4", err: ErrInvalid},
			{kind: "answer", id: "q1", status: StatusAnswered},
			{kind: "ask", who: "a", text: "4", status: StatusOpen},
		}, []string{"q2", "q3", "q4", "q1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(DefaultConfig())
			for i, o := range tt.ops {
				var q Question
				var err error
				switch o.kind {
				case "ask":
					q, err = b.Ask(t0, o.who, o.text)
				case "up":
					q, _, err = b.Upvote(o.who, o.id)
				case "answer":
					q, err = b.Answer(o.id, o.text)
				case "dismiss":
					q, err = b.Dismiss(o.who, o.admin, o.id)
				}
				if !errors.Is(err, o.err) {
					t.Fatalf("op %d %s: err = %v, want %v", i, o.kind, err, o.err)
				}
				if err == nil && (q.Votes != o.votes || q.Status != o.status) {
					t.Fatalf("op %d %s: %+v, want votes %d status %s", i, o.kind, q, o.votes, o.status)
				}
			}
			var ids []string
			for _, q := range b.List() {
				ids = append(ids, q.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.list, ",") {
				t.Fatalf("list %v, want %v", ids, tt.list)
			}
		})
	}
}

func TestBoardEvictsClosedWhenFull(t *testing.T) {
	b := New(Config{MaxTextLen: 100, MaxQuestions: 2, MaxOpenPerAsker: 5})
	_, _ = b.Ask(t0, "a", "1")
	_, _ = b.Ask(t0, "a", "2")
	if _, err := b.Ask(t0, "a", "3"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("full board of open questions: %v", err)
	}
	_, _ = b.Answer("q1", "")
	if _, err := b.Ask(t0, "a", "3"); err != nil {
		t.Fatalf("an answered question should make room: %v", err)
	}
	if _, err := b.Answer("q1", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("q1 should be gone: %v", err)
	}
}

// TestBoardsMerge: two boards exchange reports (each with its own voters only) in either
// order and end alike: ids do not collide, votes add up, a close on one closes it on the
// other, and two different closes at once settle on the same status on both.
func TestBoardsMerge(t *testing.T) {
	a, b := New(DefaultConfig()), New(DefaultConfig())
	a.SetIDPrefix("A.")
	b.SetIDPrefix("B.")
	qa, _ := a.Ask(t0, "ann", "from a?")
	qb, _ := b.Ask(t0, "bob", "from b?")
	if qa.ID == qb.ID {
		t.Fatalf("ids collide: %s", qa.ID)
	}
	exchange := func() {
		ra, rb := a.Reports(Changed), b.Reports(Changed)
		for _, q := range ra {
			if _, _, err := b.Merge("A", q); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range rb {
			if _, _, err := a.Merge("B", q); err != nil {
				t.Fatal(err)
			}
		}
	}
	exchange()
	if _, _, err := a.Upvote("cat", qb.ID); err != nil { // a vote on a for b's question
		t.Fatal(err)
	}
	for _, who := range []string{"dan", "eve"} {
		if _, _, err := b.Upvote(who, qb.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := b.Upvote("bob", qb.ID); !errors.Is(err, ErrOwnQuestion) {
		t.Fatalf("asker's own upvote on another board: %v", err)
	}
	exchange()
	exchange() // a repeated report changes nothing
	for name, board := range map[string]*Board{"a": a, "b": b} {
		if l := board.List(); len(l) != 2 || l[0].ID != qb.ID || l[0].Votes != 3 || l[1].Votes != 0 {
			t.Fatalf("board %s: %+v", name, l)
		}
	}
	// Answered on a and dismissed on b before either heard of the other: both settle on
	// answered.
	if _, err := a.Answer(qa.ID, "yes"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Dismiss("ann", false, qa.ID); err != nil {
		t.Fatal(err)
	}
	exchange()
	for name, board := range map[string]*Board{"a": a, "b": b} {
		if q := board.byID[qa.ID].Question; q.Status != StatusAnswered || q.Answer != "yes" {
			t.Fatalf("board %s: %+v, want answered yes", name, q)
		}
	}
	// A heartbeat repeats every open question this board has a say in, and a closed one
	// (qa, dismissed on b) for its first ClosedRepeats heartbeats, so that a lost close is
	// told again; a sync asks for everything.
	for beat := 1; beat <= ClosedRepeats+1; beat++ {
		r := b.Reports(Heartbeat)
		ids := map[string]int{}
		for _, q := range r {
			ids[q.ID] = q.Votes
		}
		_, closedRepeated := ids[qa.ID]
		if ids[qb.ID] != 2 || closedRepeated != (beat <= ClosedRepeats) {
			t.Fatalf("b's heartbeat %d: %+v", beat, r)
		}
	}
	if r := b.Reports(Everything); len(r) != 2 {
		t.Fatalf("b's sync: %+v; want both questions", r)
	}
	if r := a.Reports(Changed); len(r) != 0 {
		t.Fatalf("nothing changed on a, yet it reports %+v", r)
	}
	for _, bad := range []Question{{ID: "x", Asker: "a", Text: "t", Status: "weird"}, {ID: "x", Asker: "a", Text: "t", Status: StatusOpen, Votes: -1},
		{ID: "", Asker: "a", Text: "t", Status: StatusOpen}, {ID: "x", Asker: "a", Text: "\x00", Status: StatusOpen}} {
		if _, _, err := a.Merge("B", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("merge of %+v: %v, want ErrInvalid", bad, err)
		}
	}
}
