package datachannel

import (
	"fmt"
	"slices"
	"time"

	"github.com/glintlive/glint/datachannel/poll"
	"github.com/glintlive/glint/datachannel/usertext"
)

// maxPolls is how many polls a room remembers; the oldest closed one goes first.
const maxPolls = 50

func (r *room) onPoll(c *Conn, env *Envelope) error {
	now := r.hub.now()
	switch env.Type {
	case TypePollOpen:
		var p pollOpen
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		if err := usertext.CheckID(p.PollID); err != nil {
			return fmt.Errorf("pollId: %w", err)
		}
		if old, ok := r.polls[p.PollID]; ok && old.Snapshot().Open {
			return fmt.Errorf("%w: poll %q is open", ErrRejected, p.PollID)
		}
		pl, err := poll.Open(poll.Spec{ID: p.PollID, Question: p.Question, Options: p.Options,
			Deadline: now.Add(time.Duration(p.DurationMs) * time.Millisecond)}, now)
		if err != nil {
			return err
		}
		if !r.makeRoomForPoll() {
			return fmt.Errorf("%w: %d polls are open; close one first", ErrRejected, maxPolls)
		}
		r.polls[p.PollID] = pl
		r.pollOrder = append(slices.DeleteFunc(r.pollOrder, func(id string) bool { return id == p.PollID }), p.PollID)
		pl.TakeChanged()
		r.broadcastPoll(pl)
	case TypePollVote:
		var p pollVote
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		pl, ok := r.polls[p.PollID]
		if !ok {
			return fmt.Errorf("%w: poll %q", ErrNotFound, p.PollID)
		}
		if _, err := pl.Vote(now, c.identity, p.Option); err != nil {
			return err
		}
		// The tally goes out on the next tick, at most every TallyInterval.
	case TypePollClose:
		var p pollRef
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		pl, ok := r.polls[p.PollID]
		if !ok {
			return fmt.Errorf("%w: poll %q", ErrNotFound, p.PollID)
		}
		if err := pl.Close(now); err != nil {
			return err
		}
		pl.TakeChanged()
		r.broadcastPoll(pl)
	}
	c.ack(env, nil)
	return nil
}

func (r *room) makeRoomForPoll() bool {
	if len(r.pollOrder) < maxPolls {
		return true
	}
	for i, id := range r.pollOrder {
		if !r.polls[id].Snapshot().Open {
			delete(r.polls, id)
			r.snaps.Delete("poll:" + id)
			r.pollOrder = slices.Delete(r.pollOrder, i, i+1)
			return true
		}
	}
	return false
}

func (r *room) broadcastPoll(pl *poll.Poll) {
	r.broadcast(TypePollState, "", pl.Snapshot(), classState, "poll:"+pl.Spec().ID)
}

// flushTallies broadcasts the polls whose tally changed since the last flush.
func (r *room) flushTallies() {
	for _, id := range r.pollOrder {
		if pl := r.polls[id]; pl.TakeChanged() {
			r.broadcastPoll(pl)
		}
	}
}

// closeDue closes polls and lots whose deadline has passed.
func (r *room) closeDue(now time.Time) {
	for _, id := range r.pollOrder {
		if pl := r.polls[id]; pl.Due(now) {
			_ = pl.Close(pl.Spec().Deadline)
			pl.TakeChanged()
			r.broadcastPoll(pl)
		}
	}
	r.closeDueLots(now)
}

func (r *room) onQna(c *Conn, env *Envelope) error {
	now := r.hub.now()
	var p qnaRef
	if env.Type == TypeQnaAsk {
		var a qnaAsk
		if err := DecodePayload(env, &a); err != nil {
			return err
		}
		q, err := r.board.Ask(now, c.identity, a.Text)
		if err != nil {
			return err
		}
		r.broadcast(TypeQnaQuestion, c.identity, q, classState, "q:"+q.ID)
		c.ack(env, map[string]string{"questionId": q.ID})
		return nil
	}
	if err := DecodePayload(env, &p); err != nil {
		return err
	}
	switch env.Type {
	case TypeQnaUpvote:
		q, changed, err := r.board.Upvote(c.identity, p.QuestionID)
		if err != nil {
			return err
		}
		if changed {
			r.broadcast(TypeQnaQuestion, "", q, classState, "q:"+q.ID)
		}
	case TypeQnaAnswer:
		q, err := r.board.Answer(p.QuestionID, p.Text)
		if err != nil {
			return err
		}
		r.broadcast(TypeQnaQuestion, c.identity, q, classState, "q:"+q.ID)
	case TypeQnaDismiss:
		if p.Text != "" {
			return errBadPayload("dismiss takes no text")
		}
		q, err := r.board.Dismiss(c.identity, c.admin, p.QuestionID)
		if err != nil {
			return err
		}
		r.broadcast(TypeQnaQuestion, c.identity, q, classState, "q:"+q.ID)
	}
	c.ack(env, nil)
	return nil
}
