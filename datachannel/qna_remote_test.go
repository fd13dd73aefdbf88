package datachannel

import (
	"testing"

	"github.com/glintlive/glint/datachannel/bus"
)

// TestQnaAcrossNodes runs one room on three nodes sharing a bus: a question asked on one
// appears on all, upvotes on each node add up everywhere, ids made on different nodes do
// not collide, an answer given on one node shows on all, a node that starts serving the
// room later gets the open questions, and the asker's own upvote is refused on any node.
func TestQnaAcrossNodes(t *testing.T) { onThreeBuses(t, qnaAcrossNodes) }

func qnaAcrossNodes(t *testing.T, b1, b2, b3 bus.Bus) {
	n := startTwoNodes(t, b1, b2)
	h2, host, alice, bob, carol := n.h2, n.host, n.alice, n.bob, n.carol

	alice.send(TypeQnaAsk, "ask", qnaAsk{Text: "from node 1?"})
	qa := alice.wantAck("ask")["questionId"].(string)
	bob.send(TypeQnaAsk, "ask", qnaAsk{Text: "from node 2?"})
	qb := bob.wantAck("ask")["questionId"].(string)
	if qa == qb {
		t.Fatalf("question ids collide across nodes: %s", qa)
	}
	bob.nextWhere(TypeQnaQuestion, isQuestion(qa, "open", 0))
	alice.nextWhere(TypeQnaQuestion, isQuestion(qb, "open", 0))

	// Upvotes for alice's question on both nodes; alice's own is refused on node 2 too.
	for _, c := range []*client{bob, carol, host} {
		c.send(TypeQnaUpvote, "up", qnaRef{QuestionID: qa})
		c.wantAck("up")
	}
	alice2 := join(t, h2, claims("alice", true, false))
	alice2.send(TypeQnaUpvote, "own", qnaRef{QuestionID: qa})
	alice2.wantError("own", CodeRejected)
	for _, c := range []*client{alice, bob} {
		c.nextWhere(TypeQnaQuestion, isQuestion(qa, "open", 3))
	}

	// A node that starts serving the room now is told the open questions.
	h3 := newTestHub(t, hubOpts{bus: b3})
	dave := join(t, h3, claims("dave", true, false))
	dave.nextWhere(TypeQnaQuestion, isQuestion(qa, "open", 3))
	dave.nextWhere(TypeQnaQuestion, isQuestion(qb, "open", 0))

	// The host on node 1 answers bob's question (asked on node 2): every node shows it.
	host.send(TypeQnaAnswer, "ans", qnaRef{QuestionID: qb, Text: "yes"})
	host.wantAck("ans")
	for _, c := range []*client{bob, dave} {
		c.nextWhere(TypeQnaQuestion, func(p map[string]any) bool {
			return p["questionId"] == qb && p["status"] == "answered" && p["answer"] == "yes"
		})
	}
	bob.send(TypeQnaUpvote, "late", qnaRef{QuestionID: qb})
	bob.wantError("late", CodeClosed)
}

// isQuestion matches a qna.question of id with this status and vote count.
func isQuestion(id, status string, votes int) func(map[string]any) bool {
	return func(p map[string]any) bool {
		return p["questionId"] == id && p["status"] == status && num(p["votes"]) == int64(votes)
	}
}
