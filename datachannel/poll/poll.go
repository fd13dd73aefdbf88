package poll

import (
	"fmt"
	"time"

	"github.com/glintlive/glint/datachannel/usertext"
)

// Limits on what a host may open.
const (
	MinOptions     = 2
	MaxOptions     = 12
	MaxQuestionLen = 300 // bytes
	MaxOptionLen   = 100 // bytes
	MaxDuration    = 24 * time.Hour
	MaxIDLen       = 64
)

// Spec describes a poll when it opens.
type Spec struct {
	ID       string    `json:"pollId"`
	Question string    `json:"question"`
	Options  []string  `json:"options"`
	Deadline time.Time `json:"deadline"`
}

// Poll is one poll's state. Not safe for concurrent use.
type Poll struct {
	spec     Spec
	votes    map[string]int // identity -> option index
	counts   []int
	closedAt time.Time
	closed   bool
	changed  bool // votes changed since the last TakeChanged
}

// Open validates spec and opens the poll at now.
func Open(spec Spec, now time.Time) (*Poll, error) {
	switch {
	case spec.ID == "" || len(spec.ID) > MaxIDLen:
		return nil, fmt.Errorf("%w: id must be 1..%d bytes", ErrInvalidSpec, MaxIDLen)
	case spec.Question == "" || len(spec.Question) > MaxQuestionLen:
		return nil, fmt.Errorf("%w: question must be 1..%d bytes", ErrInvalidSpec, MaxQuestionLen)
	case len(spec.Options) < MinOptions || len(spec.Options) > MaxOptions:
		return nil, fmt.Errorf("%w: %d..%d options", ErrInvalidSpec, MinOptions, MaxOptions)
	case !spec.Deadline.After(now) || spec.Deadline.Sub(now) > MaxDuration:
		return nil, fmt.Errorf("%w: deadline must be within %v from now", ErrInvalidSpec, MaxDuration)
	}
	if err := usertext.Check(spec.Question, usertext.Line); err != nil {
		return nil, fmt.Errorf("%w: question: %w", ErrInvalidSpec, err)
	}
	seen := map[string]bool{}
	for i, o := range spec.Options {
		if o == "" || len(o) > MaxOptionLen || seen[o] {
			return nil, fmt.Errorf("%w: options must be distinct, 1..%d bytes", ErrInvalidSpec, MaxOptionLen)
		}
		if err := usertext.Check(o, usertext.Line); err != nil {
			return nil, fmt.Errorf("%w: option %d: %w", ErrInvalidSpec, i, err)
		}
		seen[o] = true
	}
	spec.Options = append([]string(nil), spec.Options...)
	return &Poll{spec: spec, votes: map[string]int{}, counts: make([]int, len(spec.Options))}, nil
}

// Spec returns the poll as opened.
func (p *Poll) Spec() Spec { return p.spec }

// Vote records identity's vote for option (an index into the options), replacing any
// earlier vote. It reports whether the tally changed (false for a repeat of the same vote).
func (p *Poll) Vote(now time.Time, identity string, option int) (bool, error) {
	if p.closed || !now.Before(p.spec.Deadline) {
		return false, ErrClosed
	}
	if identity == "" || option < 0 || option >= len(p.counts) {
		return false, fmt.Errorf("%w: option %d of %d", ErrInvalidVote, option, len(p.counts))
	}
	prev, voted := p.votes[identity]
	if voted && prev == option {
		return false, nil
	}
	if voted {
		p.counts[prev]--
	}
	p.votes[identity] = option
	p.counts[option]++
	p.changed = true
	return true, nil
}

// Due reports whether the poll is open past its deadline, so the caller should Close.
func (p *Poll) Due(now time.Time) bool { return !p.closed && !now.Before(p.spec.Deadline) }

// Closed reports whether the poll has closed, and when.
func (p *Poll) Closed() (time.Time, bool) { return p.closedAt, p.closed }

// Close ends the poll; later votes are ErrClosed. Closing twice is ErrClosed.
func (p *Poll) Close(now time.Time) error {
	if p.closed {
		return ErrClosed
	}
	p.closed, p.closedAt, p.changed = true, now, true
	return nil
}

// TakeChanged reports whether the tally or state changed since the last call, and clears
// the mark. A caller broadcasting tallies at most every so often calls it on its tick.
func (p *Poll) TakeChanged() bool {
	c := p.changed
	p.changed = false
	return c
}

// VoteOf returns identity's current vote, if any.
func (p *Poll) VoteOf(identity string) (int, bool) {
	o, ok := p.votes[identity]
	return o, ok
}

// Snapshot is a poll's public state. Winners are set once it has closed: the options
// with the most votes (several on a tie, none with no votes).
type Snapshot struct {
	ID       string   `json:"pollId"`
	Question string   `json:"question"`
	Options  []string `json:"options"`
	Counts   []int    `json:"counts"`
	Total    int      `json:"total"`
	Deadline int64    `json:"deadline"` // unix ms
	Open     bool     `json:"open"`
	Winners  []int    `json:"winners,omitempty"`
}

// Tally is votes counted somewhere: this poll's own (Tally), or another node's, added to
// a snapshot with SnapshotWith.
type Tally struct {
	Counts []int `json:"counts"` // per option
	Voters int   `json:"voters"` // identities that voted
}

// Tally returns the votes this poll counted itself.
func (p *Poll) Tally() Tally {
	return Tally{Counts: append([]int(nil), p.counts...), Voters: len(p.votes)}
}

// Snapshot returns the poll's public state.
func (p *Poll) Snapshot() Snapshot { return p.SnapshotWith() }

// SnapshotWith returns the poll's public state with others' votes added to its own; a
// tally with the wrong number of options is left out.
func (p *Poll) SnapshotWith(others ...Tally) Snapshot {
	s := Snapshot{ID: p.spec.ID, Question: p.spec.Question, Options: p.spec.Options,
		Counts: append([]int(nil), p.counts...), Total: len(p.votes),
		Deadline: p.spec.Deadline.UnixMilli(), Open: !p.closed}
	for _, o := range others {
		if len(o.Counts) != len(s.Counts) {
			continue
		}
		for i, c := range o.Counts {
			s.Counts[i] += c
		}
		s.Total += o.Voters
	}
	if p.closed {
		best := 0
		for i, c := range s.Counts {
			switch {
			case c > best:
				best, s.Winners = c, []int{i}
			case c == best && c > 0:
				s.Winners = append(s.Winners, i)
			}
		}
	}
	return s
}
