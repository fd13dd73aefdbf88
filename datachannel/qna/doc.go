// Package qna is the rules of a live Q&A board as a pure state machine: viewers ask and
// upvote (one upvote per identity per question, not their own), the host answers or
// dismisses, and an asker may withdraw (dismiss) their own question. No I/O, no clocks.
package qna
