package poll

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func spec() Spec {
	return Spec{ID: "p1", Question: "Next game?", Options: []string{"chess", "go", "poker"}, Deadline: t0.Add(time.Minute)}
}

func TestOpenValidates(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Spec)
		ok   bool
	}{
		{"good", func(*Spec) {}, true},
		{"no id", func(s *Spec) { s.ID = "" }, false},
		{"no question", func(s *Spec) { s.Question = "" }, false},
		{"long question", func(s *Spec) { s.Question = strings.Repeat("q", MaxQuestionLen+1) }, false},
		{"one option", func(s *Spec) { s.Options = []string{"a"} }, false},
		{"too many options", func(s *Spec) { s.Options = strings.Split("abcdefghijklm", "") }, false},
		{"duplicate option", func(s *Spec) { s.Options = []string{"a", "a"} }, false},
		{"empty option", func(s *Spec) { s.Options = []string{"a", ""} }, false},
		{"bad utf-8", func(s *Spec) { s.Options = []string{"a", "\xff"} }, false},
		{"deadline past", func(s *Spec) { s.Deadline = t0 }, false},
		{"deadline too far", func(s *Spec) { s.Deadline = t0.Add(25 * time.Hour) }, false},
	}
	for _, tt := range tests {
		s := spec()
		tt.mod(&s)
		if _, err := Open(s, t0); (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidSpec)) {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestVotes(t *testing.T) {
	type vote struct {
		at      time.Duration
		who     string
		option  int
		changed bool
		err     error
	}
	tests := []struct {
		name    string
		votes   []vote
		closeAt time.Duration
		counts  []int
		winners []int
	}{
		{"one vote each", []vote{{1, "a", 0, true, nil}, {2, "b", 1, true, nil}, {3, "c", 1, true, nil}},
			time.Minute, []int{1, 2, 0}, []int{1}},
		{"change of mind moves the vote", []vote{{1, "a", 0, true, nil}, {2, "a", 2, true, nil}, {3, "a", 2, false, nil}},
			time.Minute, []int{0, 0, 1}, []int{2}},
		{"bad option", []vote{{1, "a", 3, false, ErrInvalidVote}, {1, "a", -1, false, ErrInvalidVote}, {1, "", 0, false, ErrInvalidVote}},
			time.Minute, []int{0, 0, 0}, nil},
		{"deadline is final", []vote{{time.Second, "a", 0, true, nil}, {time.Minute, "b", 1, false, ErrClosed}},
			time.Minute, []int{1, 0, 0}, []int{0}},
		{"closed early", []vote{{time.Second, "a", 0, true, nil}, {3 * time.Second, "b", 1, false, ErrClosed}},
			2 * time.Second, []int{1, 0, 0}, []int{0}},
		{"tie", []vote{{1, "a", 0, true, nil}, {2, "b", 2, true, nil}},
			time.Minute, []int{1, 0, 1}, []int{0, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := Open(spec(), t0)
			closed := false
			for i, v := range tt.votes {
				if !closed && v.at >= tt.closeAt {
					_ = p.Close(t0.Add(tt.closeAt))
					closed = true
				}
				changed, err := p.Vote(t0.Add(v.at), v.who, v.option)
				if changed != v.changed || !errors.Is(err, v.err) {
					t.Fatalf("vote %d: changed=%v err=%v, want %v %v", i, changed, err, v.changed, v.err)
				}
			}
			if !closed {
				_ = p.Close(t0.Add(tt.closeAt))
			}
			s := p.Snapshot()
			if !slices.Equal(s.Counts, tt.counts) || !slices.Equal(s.Winners, tt.winners) || s.Open {
				t.Fatalf("snapshot %+v, want counts %v winners %v", s, tt.counts, tt.winners)
			}
			if err := p.Close(t0.Add(time.Hour)); !errors.Is(err, ErrClosed) {
				t.Fatalf("second close: %v", err)
			}
		})
	}
}

func TestTakeChanged(t *testing.T) {
	p, _ := Open(spec(), t0)
	if p.TakeChanged() {
		t.Fatal("changed before any vote")
	}
	_, _ = p.Vote(t0, "a", 0)
	_, _ = p.Vote(t0, "b", 0)
	if !p.TakeChanged() || p.TakeChanged() {
		t.Fatal("TakeChanged must report once per batch of changes")
	}
	_, _ = p.Vote(t0, "a", 0) // same vote: no change
	if p.TakeChanged() {
		t.Fatal("a repeated vote is not a change")
	}
}

// TestRandomVotesTally checks that after any sequence of votes the counts equal the
// number of identities whose latest vote is each option.
func TestRandomVotesTally(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		p, _ := Open(spec(), t0)
		latest := map[string]int{}
		for i := 0; i < 500; i++ {
			who, opt := string(rune('a'+rng.IntN(26))), rng.IntN(3)
			if _, err := p.Vote(t0, who, opt); err != nil {
				t.Fatal(err)
			}
			latest[who] = opt
		}
		want := make([]int, 3)
		for _, o := range latest {
			want[o]++
		}
		if s := p.Snapshot(); !slices.Equal(s.Counts, want) || s.Total != len(latest) {
			t.Fatalf("counts %v total %d, want %v %d", s.Counts, s.Total, want, len(latest))
		}
	}
}

// TestSnapshotWith: other nodes' tallies add to the counts, the total and the winners; a
// tally for another set of options is left out.
func TestSnapshotWith(t *testing.T) {
	p, err := Open(spec(), t0)
	if err != nil {
		t.Fatal(err)
	}
	for i, who := range []string{"a", "b", "c"} {
		if _, err := p.Vote(t0.Add(time.Second), who, i%2); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.Tally(); !slices.Equal(got.Counts, []int{2, 1, 0}) || got.Voters != 3 {
		t.Fatalf("own tally %+v", got)
	}
	others := []Tally{{Counts: []int{0, 2, 1}, Voters: 3}, {Counts: []int{9, 9}, Voters: 18}, {Counts: []int{0, 0, 1}, Voters: 1}}
	open := p.SnapshotWith(others...)
	if !slices.Equal(open.Counts, []int{2, 3, 2}) || open.Total != 7 || !open.Open || open.Winners != nil {
		t.Fatalf("open snapshot %+v", open)
	}
	if !slices.Equal(p.Snapshot().Counts, []int{2, 1, 0}) {
		t.Fatalf("SnapshotWith changed the poll's own counts: %+v", p.Snapshot())
	}
	if err := p.Close(t0.Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if at, closed := p.Closed(); !closed || !at.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("Closed() = %v, %v", at, closed)
	}
	// Node-local, option 0 wins; with the others, option 1 does.
	if s := p.SnapshotWith(others...); !slices.Equal(s.Winners, []int{1}) {
		t.Fatalf("winners with others %v, want [1]", s.Winners)
	}
	if s := p.Snapshot(); !slices.Equal(s.Winners, []int{0}) {
		t.Fatalf("own winners %v, want [0]", s.Winners)
	}
}
