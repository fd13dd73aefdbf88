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
		if old, ok := r.polls[p.PollID]; ok && old.poll.Snapshot().Open {
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
		e := &pollEntry{poll: pl, opened: now.UnixMilli(), openedBy: r.hub.bus.Node(), ownVotes: true}
		r.addPoll(e)
		pl.TakeChanged()
		r.broadcastPoll(e)
		r.reportPolls(now, false) // other nodes open it now, not at the next tick
	case TypePollVote:
		var p pollVote
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		e, ok := r.polls[p.PollID]
		if !ok {
			return fmt.Errorf("%w: poll %q", ErrNotFound, p.PollID)
		}
		changed, err := e.poll.Vote(now, c.identity, p.Option)
		if err != nil {
			return err
		}
		if changed {
			e.ownVotes, e.reportDue = true, true
			e.version++
		}
		// The tally goes out on the next tick, at most every TallyInterval.
	case TypePollClose:
		var p pollRef
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		e, ok := r.polls[p.PollID]
		if !ok {
			return fmt.Errorf("%w: poll %q", ErrNotFound, p.PollID)
		}
		if err := e.poll.Close(now); err != nil {
			return err
		}
		e.poll.TakeChanged()
		e.ownVotes, e.reportDue = true, true
		r.broadcastPoll(e)
		r.reportPolls(now, false)
	}
	c.ack(env, nil)
	return nil
}

// addPoll puts e in the room, in place of any earlier opening of its id, as the newest.
func (r *room) addPoll(e *pollEntry) {
	id := e.poll.Spec().ID
	r.polls[id] = e
	r.pollOrder = append(slices.DeleteFunc(r.pollOrder, func(o string) bool { return o == id }), id)
}

func (r *room) makeRoomForPoll() bool {
	if len(r.pollOrder) < maxPolls {
		return true
	}
	for i, id := range r.pollOrder {
		if !r.polls[id].poll.Snapshot().Open {
			delete(r.polls, id)
			r.snaps.Delete("poll:" + id)
			r.pollOrder = slices.Delete(r.pollOrder, i, i+1)
			return true
		}
	}
	return false
}

func (r *room) broadcastPoll(e *pollEntry) {
	e.othersNew = false
	r.broadcast(TypePollState, "", e.snapshot(), classState, "poll:"+e.poll.Spec().ID)
}

// flushTallies broadcasts the polls whose tally changed since the last flush, here or on
// another node, and reports this node's changes to the others.
func (r *room) flushTallies(now time.Time) {
	for _, id := range r.pollOrder {
		if e := r.polls[id]; e.poll.TakeChanged() || e.othersNew {
			r.broadcastPoll(e)
		}
	}
	r.reportPolls(now, false)
}

// closeDue closes polls and lots whose deadline has passed.
func (r *room) closeDue(now time.Time) {
	for _, id := range r.pollOrder {
		if e := r.polls[id]; e.poll.Due(now) {
			_ = e.poll.Close(e.poll.Spec().Deadline)
			e.poll.TakeChanged()
			e.reportDue = e.ownVotes
			r.broadcastPoll(e)
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
