package signaling

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/roomname"
	"github.com/glintlive/glint/signaling/auth"
)

// WebSocket timings for the interaction endpoint.
const (
	wsPingEvery  = 20 * time.Second // server pings this often...
	wsPongWait   = 60 * time.Second // ...and drops a client silent for this long
	wsWriteWait  = 10 * time.Second // one message must be written within this
	wsReadFactor = 4                // frames up to this many times the message limit get an error event; longer ones close the socket
)

// EnableInteraction serves the interaction protocol (docs/PROTOCOL.md) over WebSocket at
// GET /ws/{room}, for LL-HLS viewers and server-side integrations, and over the data
// channel a WHIP or WHEP client opens (label datachannel.Label). Call it once, before
// serving.
//
// The token is checked as for WHEP: Authorization header or access_token parameter. It
// must allow canSubscribe or canPublishData in the room; what the connection may send
// then follows from its grants. Without a token, and with anonymous viewing on, a client
// may join a room that exists to receive only.
//
// It also serves GET /rooms/{room}/gifts, the room's gift log for its backend, and
// GET /rooms/{room}/gifts/undelivered, the gifts a webhook gave up on (roomAdmin).
func (s *Server) EnableInteraction(hub *datachannel.Hub) {
	s.hub = hub
	s.mux.HandleFunc("GET /ws/{room}", s.limited(s.interact(hub)))
	s.mux.HandleFunc("GET /rooms/{room}/gifts", s.limited(s.giftLog(hub)))
	s.mux.HandleFunc("GET /rooms/{room}/gifts/undelivered", s.limited(s.undeliveredGifts(hub)))
}

func (s *Server) interact(hub *datachannel.Hub) http.HandlerFunc {
	up := websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// The batched framing first: a client offering both gets it.
		Subprotocols: []string{datachannel.BatchProtocol, datachannel.Label},
		// Browsers send Origin; only pages on the configured CORS origins may connect.
		// Clients that are not browsers send none.
		CheckOrigin: func(r *http.Request) bool {
			o := r.Header.Get("Origin")
			return o == "" || s.originAllowed(o)
		},
	}
	return func(w http.ResponseWriter, r *http.Request) {
		room := r.PathValue("room")
		if !roomname.Valid(room) {
			writeError(w, fmt.Errorf("%w: %q", roomname.ErrInvalid, room))
			return
		}
		// Anonymous viewers receive only; a token must allow watching or sending events.
		claims, err := s.verifier.Authorize(r, room, s.cfg.AllowAnonymousViewing, auth.PermSubscribe, auth.PermPublishData)
		if err != nil {
			writeError(w, err)
			return
		}
		if claims == nil && s.sfu.Room(room) == nil {
			writeError(w, errNoRoom)
			return
		}
		ws, err := up.Upgrade(w, r, nil) // answers the client itself on failure
		if err != nil {
			return
		}
		t := &wsTransport{ws: ws, batch: ws.Subprotocol() == datachannel.BatchProtocol}
		conn, err := hub.Join(room, claims, t)
		if err != nil {
			code := websocket.CloseTryAgainLater
			if errors.Is(err, roomname.ErrInvalid) || errors.Is(err, datachannel.ErrInvalidName) {
				code = websocket.ClosePolicyViolation
			}
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, err.Error()), time.Now().Add(wsWriteWait))
			_ = ws.Close()
			return
		}
		log := s.log.With(zap.String("room", room), zap.String("identity", identity(claims)))
		log.Debug("interaction websocket open")
		serveWS(ws, conn, hub)
		log.Debug("interaction websocket closed")
	}
}

// serveWS runs the read loop and the keep-alive pings until either side goes away.
func serveWS(ws *websocket.Conn, conn *datachannel.Conn, hub *datachannel.Hub) {
	ws.SetReadLimit(int64(wsReadFactor * hub.MaxMessageBytes()))
	_ = ws.SetReadDeadline(time.Now().Add(wsPongWait))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(wsPongWait)) })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(wsPingEvery)
		defer tick.Stop()
		for {
			select {
			case <-conn.Done():
				return
			case <-tick.C:
				if ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)) != nil {
					return
				}
			}
		}
	}()
	defer wg.Wait()
	defer conn.Close() // before wg.Wait: ends the ping loop
	for {
		kind, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if kind != websocket.TextMessage {
			err = conn.ReceiveBinary() // answered with an error event, never read
		} else {
			err = conn.Receive(data)
		}
		if err != nil {
			return
		}
	}
}

// wsTransport is a datachannel.Transport over a WebSocket. The Conn's writer goroutine is
// its only data writer; pings use WriteControl, which may run alongside.
type wsTransport struct {
	ws    *websocket.Conn
	batch bool
	once  sync.Once
}

// Batched implements datachannel.Batcher: the client offered datachannel.BatchProtocol.
func (t *wsTransport) Batched() bool { return t.batch }

func (t *wsTransport) Write(b []byte) error {
	if err := t.ws.SetWriteDeadline(time.Now().Add(wsWriteWait)); err != nil {
		return err
	}
	return t.ws.WriteMessage(websocket.TextMessage, b)
}

func (t *wsTransport) Close() error {
	t.once.Do(func() {
		_ = t.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = t.ws.Close()
	})
	return nil
}
