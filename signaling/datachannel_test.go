package signaling_test

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

// loopbackPC is a pion PeerConnection that only uses 127.0.0.1.
func loopbackPC(t *testing.T) *webrtc.PeerConnection {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// dcPeer is a client with an interaction data channel to a "server" peer whose end is
// attached to the hub, as a WHEP session's would be.
type dcPeer struct {
	t       *testing.T
	dc      *webrtc.DataChannel
	msgs    chan datachannel.Envelope
	backlog []datachannel.Envelope
	arrays  atomic.Int32 // batched frames received
}

func newDCPeer(t *testing.T, hub *datachannel.Hub, claims *auth.Claims) *dcPeer {
	t.Helper()
	return newDCPeerProto(t, hub, claims, "")
}

// newDCPeerProto opens the channel with the given protocol: datachannel.BatchProtocol
// asks for batched frames.
func newDCPeerProto(t *testing.T, hub *datachannel.Hub, claims *auth.Claims, protocol string) *dcPeer {
	t.Helper()
	client, server := loopbackPC(t), loopbackPC(t)
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	attached := make(chan error, 1)
	server.OnDataChannel(func(dc *webrtc.DataChannel) {
		_, err := signaling.AttachDataChannel(hub, "show", claims, dc, nil)
		attached <- err
	})
	dc, err := client.CreateDataChannel(datachannel.Label, &webrtc.DataChannelInit{Protocol: &protocol})
	if err != nil {
		t.Fatal(err)
	}
	p := &dcPeer{t: t, dc: dc, msgs: make(chan datachannel.Envelope, 1000)}
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		var envs []datachannel.Envelope
		if len(m.Data) > 0 && m.Data[0] == '[' {
			p.arrays.Add(1)
			if json.Unmarshal(m.Data, &envs) != nil || len(envs) < 2 {
				envs = []datachannel.Envelope{{Type: "bad batched frame: " + string(m.Data)}}
			}
		} else {
			envs = make([]datachannel.Envelope, 1)
			if json.Unmarshal(m.Data, &envs[0]) != nil {
				envs[0].Type = "bad frame: " + string(m.Data)
			}
		}
		for _, env := range envs {
			p.msgs <- env
		}
	})
	opened := make(chan struct{})
	dc.OnOpen(func() { close(opened) })
	exchange(t, client, server)
	select {
	case err := <-attached:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no data channel on the server side within 10s")
	}
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("data channel did not open within 10s")
	}
	p.next(datachannel.TypeWelcome)
	return p
}

// exchange runs a vanilla-ICE offer/answer between two local peers.
func exchange(t *testing.T, offerer, answerer *webrtc.PeerConnection) {
	t.Helper()
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-g
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-g
	if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
}

func (p *dcPeer) send(typ, id string, payload any) {
	p.t.Helper()
	b, _ := json.Marshal(payload)
	msg, _ := json.Marshal(datachannel.Envelope{V: 1, Type: typ, ID: id, Payload: b})
	if err := p.dc.SendText(string(msg)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *dcPeer) take(ok func(*datachannel.Envelope) bool) *datachannel.Envelope {
	p.t.Helper()
	for i, env := range p.backlog {
		if ok(&env) {
			p.backlog = append(p.backlog[:i], p.backlog[i+1:]...)
			return &env
		}
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case env := <-p.msgs:
			if strings.HasPrefix(env.Type, "bad ") {
				p.t.Fatal(env.Type) // what OnMessage could not decode
			}
			if ok(&env) {
				return &env
			}
			p.backlog = append(p.backlog, env)
		case <-deadline:
			p.t.Fatal("nothing within 10s")
			return nil
		}
	}
}

func (p *dcPeer) next(typ string) map[string]any {
	p.t.Helper()
	return payload(p.t, p.take(func(e *datachannel.Envelope) bool { return e.Type == typ }))
}

func (p *dcPeer) wantAck(id string) map[string]any {
	p.t.Helper()
	env := p.take(func(e *datachannel.Envelope) bool {
		return (e.Type == datachannel.TypeAck || e.Type == datachannel.TypeError) && e.ID == id
	})
	if env.Type != datachannel.TypeAck {
		p.t.Fatalf("%s: %s %s", id, env.Type, env.Payload)
	}
	return payload(p.t, env)
}

// TestInteractionOverDataChannelAndWebSocket puts pion data-channel peers and WebSocket
// clients in one room: chat, a poll and an auction end to end across both transports.
func TestInteractionOverDataChannelAndWebSocket(t *testing.T) {
	e := newEnv(t, nil)
	hub := withInteraction(t, e)
	alice := newDCPeer(t, hub, &auth.Claims{Identity: "alice", Room: "show", RoomJoin: true, CanSubscribe: true, CanPublishData: true})
	bob := newDCPeer(t, hub, &auth.Claims{Identity: "bob", Room: "show", RoomJoin: true, CanSubscribe: true, CanPublishData: true})
	host := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "host", Admin: true}))

	alice.send(datachannel.TypeChatSend, "c", map[string]string{"text": "over SCTP"})
	alice.wantAck("c")
	if m := host.next(datachannel.TypeChatMessage); m["from"] != "alice" || m["text"] != "over SCTP" {
		t.Fatalf("websocket client got %v", m)
	}
	host.send(datachannel.TypeChatSend, "h", map[string]string{"text": "over TCP"})
	host.wantAck("h")
	if m := bob.next(datachannel.TypeChatMessage); m["text"] != "over SCTP" {
		t.Fatalf("bob got %v first", m)
	}
	if m := bob.next(datachannel.TypeChatMessage); m["text"] != "over TCP" {
		t.Fatalf("bob got %v", m)
	}

	host.send(datachannel.TypePollOpen, "p", map[string]any{"pollId": "p", "question": "?", "options": []string{"a", "b"}, "durationMs": 60000})
	host.wantAck("p")
	alice.send(datachannel.TypePollVote, "v", map[string]any{"pollId": "p", "option": 1})
	alice.wantAck("v")
	host.nextWhere(datachannel.TypePollState, func(p map[string]any) bool { return n(p["total"]) == 1 })

	host.send(datachannel.TypeAuctionOpen, "o", map[string]any{"lotId": "lot", "startPrice": 100, "increment": 10, "durationMs": 60000})
	host.wantAck("o")
	alice.send(datachannel.TypeAuctionBid, "a", map[string]any{"lotId": "lot", "bidId": "a", "amount": 100})
	alice.wantAck("a")
	bob.send(datachannel.TypeAuctionBid, "b", map[string]any{"lotId": "lot", "bidId": "b", "amount": 110})
	bob.wantAck("b")
	if o := alice.next(datachannel.TypeAuctionOutbid); n(o["highAmount"]) != 110 {
		t.Fatalf("outbid %v", o)
	}
	host.send(datachannel.TypeAuctionEnd, "x", map[string]any{"lotId": "lot"})
	host.wantAck("x")
	if c := alice.next(datachannel.TypeAuctionClosed); c["winner"] != "bob" {
		t.Fatalf("closed %v", c)
	}
}

func TestAttachDataChannelRefusesOtherChannels(t *testing.T) {
	e := newEnv(t, nil)
	hub := withInteraction(t, e)
	client, server := loopbackPC(t), loopbackPC(t)
	defer func() { _ = client.Close(); _ = server.Close() }()
	var mu sync.Mutex
	var errs []error
	got := make(chan struct{}, 2)
	server.OnDataChannel(func(dc *webrtc.DataChannel) {
		_, err := signaling.AttachDataChannel(hub, "show", nil, dc, nil)
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		got <- struct{}{}
	})
	if _, err := client.CreateDataChannel("chat", nil); err != nil {
		t.Fatal(err)
	}
	zero := uint16(0)
	if _, err := client.CreateDataChannel(datachannel.Label, &webrtc.DataChannelInit{MaxRetransmits: &zero}); err != nil {
		t.Fatal(err)
	}
	exchange(t, client, server)
	for i := 0; i < 2; i++ {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("data channels did not arrive")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, err := range errs {
		if err == nil {
			t.Fatalf("a wrong channel was attached: %v", errs)
		}
	}
}

// TestDataChannelBinaryAndBadText: over a real pion data channel, a binary message is
// answered with bad_json and never read, and text the policy refuses with bad_payload
// carrying the message's id.
func TestDataChannelBinaryAndBadText(t *testing.T) {
	e := newEnv(t, nil)
	hub := withInteraction(t, e)
	p := newDCPeer(t, hub, &auth.Claims{Identity: "alice", Room: "show", RoomJoin: true, CanSubscribe: true, CanPublishData: true})
	if err := p.dc.Send([]byte(`{"v":1,"type":"chat.send","id":"bin","payload":{"text":"binary"}}`)); err != nil {
		t.Fatal(err)
	}
	if env := p.take(func(e *datachannel.Envelope) bool { return e.Type == datachannel.TypeError || e.ID == "bin" }); env.Type != datachannel.TypeError || payload(t, env)["code"] != datachannel.CodeBadJSON {
		t.Fatalf("answer to a binary message: %s %s, want a bad_json error", env.Type, env.Payload)
	}
	p.send(datachannel.TypeChatSend, "rlo", map[string]string{"text": "gnp.\u202eexe"})
	env := p.take(func(e *datachannel.Envelope) bool { return e.ID == "rlo" })
	if env.Type != datachannel.TypeError || payload(t, env)["code"] != datachannel.CodeBadPayload {
		t.Fatalf("answer to a bidi override: %s %s, want a bad_payload error", env.Type, env.Payload)
	}
	p.send(datachannel.TypeChatSend, "ok", map[string]string{"text": "plain"})
	p.wantAck("ok")
	if m := p.next(datachannel.TypeChatMessage); m["text"] != "plain" {
		t.Fatalf("first chat message the room saw: %v", m)
	}
}
