package signaling_test

import (
	"net/http"
	"testing"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestBatchedFramesOverWebSocketAndDataChannel: a client that offers glint.v1.batch (as
// its WebSocket subprotocol, or its data channel's protocol) gets several envelopes in one
// frame when events come close together, in order; a client that does not gets one
// envelope per frame, as before.
func TestBatchedFramesOverWebSocketAndDataChannel(t *testing.T) {
	e := newEnv(t, nil)
	cfg := datachannel.DefaultConfig()
	cfg.Coalesce = datachannel.MaxCoalesce
	hub, err := datachannel.NewHub(cfg, bus.NewMemory(), datachannel.Options{}, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	e.sig.EnableInteraction(hub)
	t.Cleanup(hub.Close)

	viewer := e.token("show", auth.TokenOptions{Identity: "viewer", Subscribe: true})
	batchedWS, resp, err := e.dialWS("show", viewer, http.Header{"Sec-WebSocket-Protocol": {datachannel.BatchProtocol + ", " + datachannel.Label}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	if got := batchedWS.ws.Subprotocol(); got != datachannel.BatchProtocol {
		t.Fatalf("subprotocol %q, want %q", got, datachannel.BatchProtocol)
	}
	plainWS, resp, err := e.dialWS("show", viewer, http.Header{"Sec-WebSocket-Protocol": {datachannel.Label}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	if got := plainWS.ws.Subprotocol(); got != datachannel.Label {
		t.Fatalf("subprotocol %q, want %q", got, datachannel.Label)
	}
	batchedDC := newDCPeerProto(t, hub, &auth.Claims{Identity: "dc", Room: "show", RoomJoin: true, CanSubscribe: true}, datachannel.BatchProtocol)
	plainDC := newDCPeer(t, hub, &auth.Claims{Identity: "dc2", Room: "show", RoomJoin: true, CanSubscribe: true})
	for _, c := range []*wsClient{batchedWS, plainWS} {
		c.next(datachannel.TypeWelcome)
		c.next(datachannel.TypeChatHistory)
	}
	batchedDC.next(datachannel.TypeChatHistory)
	plainDC.next(datachannel.TypeChatHistory)
	host := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "host", Admin: true}))

	// The chat limit's burst: sent back to back, all but the first fall in one 50 ms wait.
	texts := []string{"one", "two", "three", "four", "five"}
	for _, text := range texts {
		host.send(datachannel.TypeChatSend, "", map[string]string{"text": text})
	}
	read := map[string]func() map[string]any{
		"batched websocket":    func() map[string]any { return batchedWS.next(datachannel.TypeChatMessage) },
		"websocket":            func() map[string]any { return plainWS.next(datachannel.TypeChatMessage) },
		"batched data channel": func() map[string]any { return batchedDC.next(datachannel.TypeChatMessage) },
		"data channel":         func() map[string]any { return plainDC.next(datachannel.TypeChatMessage) },
	}
	for who, next := range read {
		for _, want := range texts {
			if m := next(); m["text"] != want {
				t.Fatalf("%s got %v, want %q", who, m, want)
			}
		}
	}
	if batchedWS.arrays == 0 || batchedDC.arrays.Load() == 0 {
		t.Errorf("batched frames: websocket %d, data channel %d; want some on both", batchedWS.arrays, batchedDC.arrays.Load())
	}
	if plainWS.arrays != 0 || plainDC.arrays.Load() != 0 {
		t.Errorf("clients that did not ask got batched frames: websocket %d, data channel %d", plainWS.arrays, plainDC.arrays.Load())
	}
}
