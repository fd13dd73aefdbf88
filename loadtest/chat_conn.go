package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	lkauth "github.com/livekit/protocol/auth"
	"github.com/pion/webrtc/v4"
)

// interactionLabel is the interaction protocol's data-channel label and WebSocket
// subprotocol (docs/PROTOCOL.md).
const interactionLabel = "glint.v1"

// interactionBatch is the subprotocol (and data channel protocol) for batched frames.
const interactionBatch = interactionLabel + ".batch"

// token mints viewer i's token: its own identity, may watch and chat.
func (r *chatRun) token(i int) (string, error) {
	yes, no := true, false
	return lkauth.NewAccessToken(r.cfg.APIKey, r.cfg.APISecret).
		SetIdentity(fmt.Sprintf("lt-%s-%d", r.runID, i)).
		SetVideoGrant(&lkauth.VideoGrant{RoomJoin: true, Room: r.cfg.Room, CanSubscribe: &yes, CanPublish: &no, CanPublishData: &yes}).
		SetValidFor(time.Hour + r.cfg.Duration).
		ToJWT()
}

// protocols is what a viewer offers as its WebSocket subprotocols.
func (r *chatRun) protocols() []string {
	if r.cfg.Batched {
		return []string{interactionBatch, interactionLabel}
	}
	return []string{interactionLabel}
}

// envelope is the part of a server envelope the chat run reads. A frame is decoded in
// one pass into these: at 100,000 deliveries a second the client's JSON work, not the
// server, would otherwise set the pace.
type envelope struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Payload struct {
		Text  string `json:"text"`  // chat.message
		Count uint64 `json:"count"` // chat.missed
	} `json:"payload"`
}

// onFrame handles one frame of any transport: one envelope, or an array of them when the
// viewer asked for batched frames.
func (r *chatRun) onFrame(b []byte) {
	now := time.Now()
	r.frames.Add(1)
	if len(b) > 0 && b[0] == '[' {
		var envs []envelope
		if !decoded(json.Unmarshal(b, &envs)) {
			return
		}
		r.envelopes.Add(uint64(len(envs)))
		for i := range envs {
			r.onEnvelope(&envs[i], now)
		}
		return
	}
	r.envelopes.Add(1)
	var env envelope
	if decoded(json.Unmarshal(b, &env)) {
		r.onEnvelope(&env, now)
	}
}

// decoded reports whether json.Unmarshal filled its target: it did also when a field of
// some other event type has the same name and another type (that field is left empty).
func decoded(err error) bool {
	var typeErr *json.UnmarshalTypeError
	return err == nil || errors.As(err, &typeErr)
}

// onEnvelope handles one server envelope, received at now.
func (r *chatRun) onEnvelope(env *envelope, now time.Time) {
	switch env.Type {
	case "chat.message":
		r.onChat(env.Payload.Text, now)
	case "chat.missed":
		r.missed.Add(env.Payload.Count)
	case "ack":
		if env.ID != "" {
			r.acked.Add(1)
		}
	case "error":
		if env.ID != "" {
			r.refused.Add(1)
		}
	}
}

// chatRequest is a chat.send envelope.
func chatRequest(id, text string) ([]byte, error) {
	return json.Marshal(map[string]any{"v": 1, "type": "chat.send", "id": id, "payload": map[string]string{"text": text}})
}

// wsConn is a viewer over WebSocket (GET /ws/{room}).
type wsConn struct {
	ws   *websocket.Conn
	done chan struct{}
}

func dialWebSocket(ctx context.Context, r *chatRun, token string) (*wsConn, error) {
	u, err := url.Parse(r.cfg.Server)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = strings.TrimSuffix(u.Path, "/") + "/ws/" + url.PathEscape(r.cfg.Room)
	u.RawQuery = url.Values{"access_token": {token}}.Encode()
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: r.protocols()}
	ws, err := retrying(ctx, maxDialAttempts, func(ctx context.Context) (*websocket.Conn, error) {
		ws, resp, err := dialer.DialContext(ctx, u.String(), nil)
		if err == nil || resp == nil {
			return ws, err
		}
		err = fmt.Errorf("GET /ws/%s: %s", r.cfg.Room, resp.Status)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			return nil, &retryError{err: err, status: resp.StatusCode, after: retryAfter(resp.Header.Get("Retry-After"))}
		}
		return nil, err
	}, nil)
	if err != nil {
		return nil, err
	}
	c := &wsConn{ws: ws, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			r.onFrame(msg)
		}
	}()
	return c, nil
}

func (c *wsConn) sendChat(id, text string) error {
	b, err := chatRequest(id, text)
	if err != nil {
		return err
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *wsConn) close() {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = c.ws.Close()
	<-c.done
}

// dcConn is a viewer over WHEP with the interaction data channel.
type dcConn struct {
	sess *session
	dc   *webrtc.DataChannel
}

var (
	chatAPIOnce sync.Once
	chatAPI     *webrtc.API
	chatAPIErr  error
)

func dialDataChannel(ctx context.Context, r *chatRun, token string) (*dcConn, error) {
	chatAPIOnce.Do(func() { chatAPI, chatAPIErr = newAPI(r.cfg.Server, nil) })
	if chatAPIErr != nil {
		return nil, chatAPIErr
	}
	endpoint := strings.TrimSuffix(r.cfg.Server, "/") + "/whep/" + url.PathEscape(r.cfg.Room)
	return retrying(ctx, maxDialAttempts, func(ctx context.Context) (*dcConn, error) {
		return tryDataChannel(ctx, r, endpoint, token)
	}, nil)
}

func tryDataChannel(ctx context.Context, r *chatRun, endpoint, token string) (*dcConn, error) {
	pc, err := chatAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			_ = pc.Close()
			return nil, err
		}
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := t.Read(buf); err != nil {
				return
			}
		}
	})
	var init webrtc.DataChannelInit
	if r.cfg.Batched {
		proto := interactionBatch
		init.Protocol = &proto
	}
	dc, err := pc.CreateDataChannel(interactionLabel, &init)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	opened := make(chan struct{})
	dc.OnOpen(func() { close(opened) })
	dc.OnMessage(func(m webrtc.DataChannelMessage) { r.onFrame(m.Data) })
	sess, err := negotiate(ctx, &http.Client{Timeout: 10 * time.Second}, pc, endpoint, token)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	wait, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	select {
	case <-opened:
		return &dcConn{sess: sess, dc: dc}, nil
	case <-wait.Done():
		sess.close()
		return nil, fmt.Errorf("data channel did not open: %w (state %s)", wait.Err(), pc.ConnectionState())
	}
}

func (c *dcConn) sendChat(id, text string) error {
	b, err := chatRequest(id, text)
	if err != nil {
		return err
	}
	return c.dc.SendText(string(b))
}

func (c *dcConn) close() { c.sess.close() }
