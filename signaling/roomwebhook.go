package signaling

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// Room webhooks: LiveKit's room_started, room_finished, participant_joined,
// participant_left, track_published and track_unpublished, as LiveKit's webhook.URLNotifier
// sends them (a WebhookEvent in protojson, signed with the API key and secret), so a
// backend verifies them with LiveKit's webhook.ReceiveWebhookEvent unchanged.
//
// Unlike gifts, which are money and go through a durable log, room events describe the
// present: each URL has a bounded queue in this process, its events go in order, one at
// a time, and one that keeps failing is retried with back-off and then dead-lettered
// (logged and counted), so a dead backend holds its queue back at most
// roomWebhookAttempts tries per event and never holds back another URL. A full queue
// drops new events (counted). A restart loses what was queued.

// Room webhook event names, as LiveKit's.
const (
	EventRoomStarted       = "room_started"
	EventRoomFinished      = "room_finished"
	EventParticipantJoined = "participant_joined"
	EventParticipantLeft   = "participant_left"
	EventTrackPublished    = "track_published"
	EventTrackUnpublished  = "track_unpublished"
)

// Delivery of room events, per URL.
const (
	roomWebhookQueue    = 1024
	roomWebhookAttempts = 6 // 0.5 + 1 + 2 + 4 + 8 s of back-off between them
	roomWebhookBackoff  = 500 * time.Millisecond
)

var (
	roomWebhookSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "room_webhook", Name: "delivered_total",
		Help: "Room events delivered, by webhook (a hash of its URL).",
	}, []string{"webhook"})
	roomWebhookFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "room_webhook", Name: "failed_attempts_total",
		Help: "Room event deliveries that failed (retried until the attempts run out), by webhook.",
	}, []string{"webhook"})
	roomWebhookDead = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "room_webhook", Name: "dead_letters_total",
		Help: "Room events given up on after every attempt failed, by webhook.",
	}, []string{"webhook"})
	roomWebhookDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "room_webhook", Name: "dropped_total",
		Help: "Room events dropped because the webhook's queue was full, by webhook.",
	}, []string{"webhook"})
)

// RoomWebhook sends room events to backend URLs.
type RoomWebhook struct {
	targets []*roomTarget
	log     *zap.Logger
	backoff time.Duration
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type roomTarget struct {
	*webhookTarget
	queue chan *livekit.WebhookEvent
}

// RoomWebhookOptions tune the room webhooks; the zero value takes the defaults.
type RoomWebhookOptions struct {
	// Backoff is the first wait after a failed attempt, doubling after each (default
	// 500 ms: 15.5 s of waiting over the six attempts).
	Backoff time.Duration
}

// NewRoomWebhook starts a sender per URL.
func NewRoomWebhook(urls []string, apiKey, apiSecret string, opts RoomWebhookOptions, log *zap.Logger) (*RoomWebhook, error) {
	if apiKey == "" || apiSecret == "" {
		return nil, fmt.Errorf("signaling: room webhooks need an API key and secret to sign with")
	}
	if opts.Backoff <= 0 {
		opts.Backoff = roomWebhookBackoff
	}
	log = log.Named("roomwebhook")
	targets, err := webhookTargets(urls, apiKey, apiSecret, "room webhook", log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &RoomWebhook{log: log, backoff: opts.Backoff, ctx: ctx, cancel: cancel}
	for _, t := range targets {
		w.targets = append(w.targets, &roomTarget{webhookTarget: t, queue: make(chan *livekit.WebhookEvent, roomWebhookQueue)})
	}
	for _, t := range w.targets {
		w.wg.Add(1)
		go w.deliver(t)
	}
	return w, nil
}

// Close stops the senders; what is queued is not sent. A nil RoomWebhook is closed.
func (w *RoomWebhook) Close() {
	if w == nil {
		return
	}
	w.cancel()
	w.wg.Wait()
	for _, t := range w.targets {
		t.transport.CloseIdleConnections()
	}
}

// send queues ev for every URL; it never blocks.
func (w *RoomWebhook) send(ev *livekit.WebhookEvent) {
	if w == nil {
		return
	}
	if ev.Id == "" {
		ev.Id = newEventID()
	}
	if ev.CreatedAt == 0 {
		ev.CreatedAt = time.Now().Unix()
	}
	for _, t := range w.targets {
		select {
		case t.queue <- ev:
		default:
			roomWebhookDropped.WithLabelValues(t.name).Inc()
		}
	}
}

func (w *RoomWebhook) deliver(t *roomTarget) {
	defer w.wg.Done()
	for {
		select {
		case <-w.ctx.Done():
			return
		case ev := <-t.queue:
			w.deliverOne(t, ev)
		}
	}
}

// deliverOne tries ev up to roomWebhookAttempts times, then dead-letters it.
func (w *RoomWebhook) deliverOne(t *roomTarget, ev *livekit.WebhookEvent) {
	fields := []zap.Field{zap.String("event", ev.Event), zap.String("id", ev.Id), zap.String("room", ev.Room.GetName())}
	wait := w.backoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(w.ctx, DefaultWebhookTimeout)
		status, err := t.postEvent(ctx, ev)
		cancel()
		if err == nil {
			roomWebhookSent.WithLabelValues(t.name).Inc()
			t.warn.succeeded(t.log, fields...)
			return
		}
		if w.ctx.Err() != nil {
			return
		}
		roomWebhookFailed.WithLabelValues(t.name).Inc()
		if attempt == roomWebhookAttempts {
			roomWebhookDead.WithLabelValues(t.name).Inc()
			t.log.Warn("room webhook event given up after every attempt failed",
				append(fields, zap.Int("attempts", attempt), zap.Int("status", status), zap.Error(err))...)
			return
		}
		t.warn.failed(t.log, append(fields, zap.Int("attempt", attempt), zap.Int("status", status), zap.Error(err))...)
		select {
		case <-w.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// SFUEvent turns a room event of the SFU into a webhook; host names the room's WHIP
// host identity, when known, for track events.
func (w *RoomWebhook) SFUEvent(e sfu.Event, host string) {
	ev := &livekit.WebhookEvent{Room: &livekit.Room{Name: e.Room, Sid: roomSid(e.Room)}, CreatedAt: e.At.Unix()}
	switch e.Kind {
	case sfu.EventRoomStarted:
		ev.Event = EventRoomStarted
		ev.Room.CreationTime = e.At.Unix()
	case sfu.EventRoomFinished:
		ev.Event = EventRoomFinished
	case sfu.EventTrackPublished, sfu.EventTrackUnpublished:
		ev.Event = EventTrackPublished
		if e.Kind == sfu.EventTrackUnpublished {
			ev.Event = EventTrackUnpublished
		}
		kind := livekit.TrackType_VIDEO
		if e.TrackKind == webrtc.RTPCodecTypeAudio {
			kind = livekit.TrackType_AUDIO
		}
		ev.Track = &livekit.TrackInfo{Sid: fmt.Sprintf("TR_%s_%s_%d", e.Room, e.TrackKind, e.Session), Type: kind}
		if host != "" {
			ev.Participant = &livekit.ParticipantInfo{Identity: host}
		}
	default:
		return
	}
	w.send(ev)
}

// participant raises participant_joined or participant_left for a WebRTC session.
func (w *RoomWebhook) participant(joined bool, res *resource) {
	if w == nil {
		return
	}
	identity := res.identity
	if !res.tokenRequired {
		identity = "anonymous-" + res.id[:8] // LiveKit participants always have one
	}
	w.participantEvent(joined, res.room, identity, res.sid(), res.created, res.kind == "whip")
}

// participantEvent raises participant_joined or participant_left for a participant of
// room, whichever way it came (a WebRTC session, an RTMP stream).
func (w *RoomWebhook) participantEvent(joined bool, room, identity, sid string, since time.Time, publisher bool) {
	if w == nil {
		return
	}
	p := &livekit.ParticipantInfo{Sid: sid, Identity: identity, JoinedAt: since.Unix(),
		State: livekit.ParticipantInfo_ACTIVE, IsPublisher: publisher}
	ev := &livekit.WebhookEvent{Event: EventParticipantJoined, Room: &livekit.Room{Name: room, Sid: roomSid(room)}, Participant: p}
	if !joined {
		ev.Event, p.State = EventParticipantLeft, livekit.ParticipantInfo_DISCONNECTED
	}
	w.send(ev)
}

// roomSid is a room's id in events: LiveKit gives each room one; Glint's rooms are their
// names.
func roomSid(room string) string { return "RM_" + room }

func newEventID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "EV_" + hex.EncodeToString(b[:])
}

// SetRoomWebhook sends participant_joined and participant_left for every WHIP and WHEP
// session to w (nil: none), and lets SFU events name the host.
func (s *Server) SetRoomWebhook(w *RoomWebhook) { s.webhook.Store(w) }

// HostIdentity is the identity of room's host (its WHIP session's, or its RTMP stream
// key's), "" when none is known.
func (s *Server) HostIdentity(room string) string { return s.hostIdentities()[room] }

// hostIdentities maps rooms to their host's identity, in one pass over the sessions (a
// WHIP host over an RTMP one of the same room, for the moment one replaces the other).
func (s *Server) hostIdentities() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	hosts := map[string]string{}
	if s.rtmp != nil {
		for _, h := range s.rtmp.Hosts() {
			hosts[h.Room] = h.Identity
		}
	}
	for _, res := range s.resources {
		if res.kind == "whip" && res.tokenRequired {
			hosts[res.room] = res.identity
		}
	}
	return hosts
}
