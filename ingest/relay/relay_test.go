package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"go.uber.org/zap/zaptest"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

func newSFU(t *testing.T, opts ...func(*sfu.Config)) *sfu.SFU {
	t.Helper()
	cfg := sfu.DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.EmptyRoomTimeout = 0
	for _, o := range opts {
		o(&cfg)
	}
	s, err := sfu.New(cfg, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// origin is another node's WHEP endpoint over its SFU, with a DELETE that does not close
// the session (an origin that is killed never does), and the layered sessions' PUT
// {session}/layers (signaling's putLayers is the real one; its own tests check its
// refusals).
func origin(t *testing.T, s *sfu.SFU) *httptest.Server {
	var mu sync.Mutex
	subs := map[string]*sfu.Subscriber{}
	n := 0
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/layers") {
			mu.Lock()
			sub := subs[strings.TrimSuffix(r.URL.Path, "/layers")]
			mu.Unlock()
			var body layersBody
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil || sub == nil {
				http.Error(w, fmt.Sprint("bad layers request: ", err), http.StatusBadRequest)
				return
			}
			var wanted [3]bool
			for _, name := range body.Layers {
				l, _ := sfu.ParseLayer(name)
				wanted[l] = true
			}
			if err := sub.SetLayersWanted(wanted); err != nil {
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/whep/") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		offer, _ := io.ReadAll(r.Body)
		sub, answer, err := s.Subscribe(strings.TrimPrefix(r.URL.Path, "/whep/"), string(offer), sfu.SubscribeOptions{MaxLayer: sfu.LayerFull, Layered: true}, sfutest.Logger())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		n++
		location := fmt.Sprintf("%s/session%d", r.URL.Path, n)
		subs[location] = sub
		mu.Unlock()
		w.Header().Set("Location", location)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, answer)
	}))
}

// directory is the real room directory, on an embedded bus of its own.
func directory(t *testing.T) *bus.Directory {
	t.Helper()
	_, d := busDirectory(t)
	return d
}

// TestRelayEndsWhenItsOriginDies: a relay pulls a room from an origin whose host sends
// frames, and puts the host's tracks on this node's stage; the relayed room is never
// announced as this node's; when the origin's SFU closes the relay ends, and Close
// returns at once.
func TestRelayEndsWhenItsOriginDies(t *testing.T) {
	originSFU, local := newSFU(t), newSFU(t)
	defer local.Close()
	srv := origin(t, originSFU)
	defer srv.Close()
	dir := directory(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub := plainHost(ctx, t, originSFU)
	r := relaysOf(ctx, t, local, dir, srv.URL)
	defer r.Close()

	if r.Want("bad/room") || r.Want(strings.Repeat("a", 4000)) {
		t.Fatal("a bad room name started a relay")
	}
	if !r.Want("show") {
		t.Fatal("no relay for a room the directory names another node for")
	}
	onStage(t, local, "show")
	time.Sleep(300 * time.Millisecond) // a few announcements: the relayed room is not one
	if e, ok, err := r.Origin(ctx, "show"); err != nil || !ok || e.Node != "origin-node" {
		t.Fatalf("directory names %+v (ok %v, %v) after this node relayed the room; want the origin still", e, ok, err)
	}

	_ = pub.Close()
	_ = originSFU.Close() // the origin shuts down
	srv.Close()
	endsThenCloses(t, r, "show", 20*time.Second)
}

// endsThenCloses waits up to limit for the relay of room to end, then for Close to
// return (5 s at most).
func endsThenCloses(t *testing.T, r *Relays, room string, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); r.Relaying(room); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the relay did not end within %v", limit)
		}
	}
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s")
	}
}

// TestRelayNotFromItself: a room the directory names this node for, or nobody for, is
// not relayed.
func TestRelayNotFromItself(t *testing.T) {
	local := newSFU(t)
	defer local.Close()
	dir := directory(t)
	r, err := New(Options{SFU: local, Directory: dir, Node: "this-node", URL: "http://127.0.0.1:1", Log: zaptest.NewLogger(t),
		Token: func(string) (string, error) { return "token", nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	value, _ := json.Marshal(Entry{Node: "this-node", URL: "http://127.0.0.1:1", Since: 1})
	if err := dir.Put(context.Background(), "mine", value); err != nil {
		t.Fatal(err)
	}
	if r.Want("mine") || r.Want("nobody") {
		t.Fatal("relayed a room from itself, or one nobody hosts")
	}
}

// silentOrigin answers WHEP with a pion peer that sends Opus and never closes: DELETE
// leaves it up, as with an origin that died (no close_notify ever comes).
func silentOrigin(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	var pcs []*webrtc.PeerConnection
	var senders sync.WaitGroup
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusOK)
			return
		}
		offer, _ := io.ReadAll(r.Body)
		var se webrtc.SettingEngine
		se.SetIncludeLoopbackCandidate(true)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		m := &webrtc.MediaEngine{}
		_ = m.RegisterDefaultCodecs()
		pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		track, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "origin")
		_, _ = pc.AddTrack(track)
		_ = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)})
		answer, _ := pc.CreateAnswer(nil)
		gathered := webrtc.GatheringCompletePromise(pc)
		_ = pc.SetLocalDescription(answer)
		<-gathered
		mu.Lock()
		pcs = append(pcs, pc)
		mu.Unlock()
		senders.Go(func() {
			for track.WriteSample(media.Sample{Data: []byte{0xfc, 0xff, 0xfe}, Duration: 20 * time.Millisecond}) == nil {
				select {
				case <-quit:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
		w.Header().Set("Location", r.URL.Path+"/session")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, pc.LocalDescription().SDP)
	}))
	t.Cleanup(func() {
		srv.Close()
		close(quit)
		senders.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, pc := range pcs {
			_ = pc.Close()
		}
	})
	return srv
}

// TestRelayEndsWithoutGoodbye: a relay whose origin never closes the session (DELETE or
// not) still ends when it has no viewer, and Close returns: the relay's host session
// waits for its track readers, which end only when the connection does, so the
// connection must close first (it did not, and the node's shutdown hung).
func TestRelayEndsWithoutGoodbye(t *testing.T) {
	local := newSFU(t)
	defer local.Close()
	srv := silentOrigin(t)
	dir := directory(t)
	value, _ := json.Marshal(Entry{Node: "origin-node", URL: srv.URL, Since: 1})
	if err := dir.Put(context.Background(), "show", value); err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{SFU: local, Directory: dir, Node: "this-node", URL: "http://127.0.0.1:1", Idle: time.Second,
		Token: func(string) (string, error) { return "token", nil }, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Want("show") {
		t.Fatal("no relay")
	}
	onStage(t, local, "show")
	endsThenCloses(t, r, "show", 10*time.Second)
}

// onStage waits up to 20 s for the relayed host's media on room's stage.
func onStage(t *testing.T, s *sfu.SFU, room string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r := s.Room(room); r != nil && r.Info().Publishing {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the relayed host never reached this node's stage")
		}
	}
}

// relaysOf starts this node's relays over local, the directory naming originURL's node as
// room "show"'s origin.
func relaysOf(ctx context.Context, t *testing.T, local *sfu.SFU, dir *bus.Directory, originURL string) *Relays {
	t.Helper()
	value, _ := json.Marshal(Entry{Node: "origin-node", URL: originURL, Since: time.Now().UnixMilli()})
	if err := dir.Put(ctx, "show", value); err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{SFU: local, Directory: dir, Node: "this-node", URL: "http://127.0.0.1:1", Log: zaptest.NewLogger(t),
		Token: func(string) (string, error) { return "token", nil }, Announce: 100 * time.Millisecond, Idle: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	return r
}

// plainHost publishes room "show" to s with a pion host without simulcast, sending frames
// for 40 s; it is closed when the test ends, if not before.
func plainHost(ctx context.Context, t *testing.T, s *sfu.SFU) *sfutest.Publisher {
	t.Helper()
	pub, err := sfutest.NewPublisher(ctx, func(_ context.Context, offer string) (string, error) {
		_, answer, err := whip.Publish(s, "show", offer, sfutest.Logger())
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	go func() { _ = pub.SendFrames(ctx, 0, 30*40, 30, 30) }()
	return pub
}

// relayRig is an origin's SFU behind its WHEP endpoint, this node's SFU and the room
// directory, with dynacast's warm-up off (what a host is told is the demand at once), all
// closed when the test ends.
func relayRig(t *testing.T) (originSFU, local *sfu.SFU, srv *httptest.Server, dir *bus.Directory) {
	t.Helper()
	originSFU, local = newSFU(t, noWarmup), newSFU(t, noWarmup)
	t.Cleanup(func() { _ = local.Close() })
	t.Cleanup(func() { _ = originSFU.Close() })
	srv = origin(t, originSFU)
	t.Cleanup(srv.Close)
	return originSFU, local, srv, directory(t)
}
