package datachannel

import (
	"testing"
	"time"

	"github.com/glintlive/glint/datachannel/bus"
)

// TestTwoNodesChat runs one room on two nodes sharing a bus: chat, deletes, moderation,
// gifts and alerts reach the other node's clients, moderation applies on both, and a gift
// retried on the other node is recognised.
func TestTwoNodesChat(t *testing.T) {
	b := bus.NewMemory()
	twoNodesChat(t, b, b.Peer())
}

func TestTwoNodesChatOverNATS(t *testing.T) {
	url := natsServer(t)
	twoNodesChat(t, openNATS(t, url), openNATS(t, url))
}

func twoNodesChat(t *testing.T, b1, b2 bus.Bus) {
	h1 := newTestHub(t, hubOpts{bus: b1})
	h2 := newTestHub(t, hubOpts{bus: b2})
	alice := join(t, h1, claims("alice", true, false))
	bob := join(t, h2, claims("bob", true, false))
	host := join(t, h2, claims("host", true, true))

	alice.send(TypeChatSend, "c1", chatSend{Text: "hello from node 1"})
	id := alice.wantAck("c1")["messageId"].(string)
	env := bob.next(TypeChatMessage)
	if p := payloadOf(t, env); p["messageId"] != id || env.From != "alice" || env.Seq == 0 {
		t.Fatalf("bob got %+v %v", env, p)
	}
	bob.send(TypeChatSend, "c2", chatSend{Text: "hello from node 2"})
	id2 := bob.wantAck("c2")["messageId"].(string)
	if id2 == id {
		t.Fatalf("message ids collide across nodes: %s", id)
	}
	alice.nextWhere(TypeChatMessage, func(p map[string]any) bool { return p["messageId"] == id2 })
	// A joiner on node 2 sees node 1's message in the history.
	late := join(t, h2, claims("late", true, false))
	if msgs := payloadOf(t, late.next(TypeChatHistory))["messages"].([]any); len(msgs) != 2 {
		t.Fatalf("history on node 2: %v", msgs)
	}

	// The host on node 2 deletes alice's message and bans her; node 1 enforces it.
	host.send(TypeChatDelete, "d", chatRef{MessageID: id})
	host.wantAck("d")
	alice.next(TypeChatDeleted)
	host.send(TypeChatBan, "ban", chatIdentity{Identity: "alice"})
	host.wantAck("ban")
	alice.nextWhere(TypeChatModeration, func(p map[string]any) bool { return p["action"] == "ban" })
	alice.send(TypeChatSend, "c3", chatSend{Text: "am I banned?"})
	alice.wantError("c3", CodeBanned)

	// A gift on node 1 is announced on node 2; its retry sent to node 2 is a duplicate.
	g := giftSend{Key: "k", Gift: "rose", Amount: 300, Currency: "EUR"}
	alice.send(TypeGiftSend, "g", g)
	first := alice.wantAck("g")
	bob.nextWhere(TypeGiftAlert, func(p map[string]any) bool { return p["from"] == "alice" })
	alice2 := join(t, h2, claims("alice", true, false))
	alice2.send(TypeGiftSend, "g-retry", g)
	if a := alice2.wantAck("g-retry"); a["duplicate"] != true || num(a["logSeq"]) != num(first["logSeq"]) {
		t.Fatalf("retry on the other node: %v, first %v", a, first)
	}

	host.send(TypeAlertShow, "al", alertShow{Kind: "follow", Text: "welcome"})
	host.wantAck("al")
	alice.next(TypeAlert)
}

// TestBusCarriesOnlyWhatOtherNodesUse: a room publishes on the bus the event kinds other
// nodes act on (chat, node reports of polls and questions here), not the ones they ignore (the poll's
// state and the question as broadcast).
func TestBusCarriesOnlyWhatOtherNodesUse(t *testing.T) {
	b := bus.NewMemory()
	topics := make(chan string, 64)
	sub, err := b.Peer().Subscribe(room1, "*", func(m bus.Msg) { topics <- m.Topic })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	h := newTestHub(t, hubOpts{bus: b})
	host := join(t, h, claims("host", true, true))
	host.send(TypePollOpen, "p", pollOpen{PollID: "p1", Question: "Which?", Options: []string{"a", "b"}, DurationMs: 60_000})
	host.wantAck("p")
	host.send(TypeQnaAsk, "q", qnaAsk{Text: "why?"})
	host.wantAck("q")
	host.send(TypeChatSend, "c", chatSend{Text: "hello"})
	host.wantAck("c")
	// The bus delivers in order: anything published before the chat line came before it.
	for {
		select {
		case topic := <-topics:
			if topic == TypeChatMessage {
				return
			}
			if !remoteTypes[topic] && topic != presenceTopic && topic != pollTopic && topic != qnaTopic && topic != syncTopic {
				t.Fatalf("%s went on the bus; no other node acts on it", topic)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the chat line never reached the bus")
		}
	}
}
