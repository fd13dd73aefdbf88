package whip

import (
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// Session is one host's WHIP session.
type Session struct {
	*sfu.Peer
	room *sfu.Room
	log  *zap.Logger

	mu        sync.Mutex
	published map[webrtc.RTPCodecType]bool
}

// Publish admits a host to a room and answers its offer. The new session replaces any
// earlier host session of the room, so a host who reconnects resumes every viewer at once.
func Publish(s *sfu.SFU, roomName, offer string, log *zap.Logger) (*Session, string, error) {
	if err := sfu.CheckOffer(offer, sfu.RolePublisher); err != nil {
		return nil, "", err
	}
	room, err := s.Join(roomName, sfu.RolePublisher)
	if err != nil {
		return nil, "", err
	}
	p, err := s.NewPeer(sfu.RolePublisher, log)
	if err != nil {
		room.Leave(sfu.RolePublisher)
		return nil, "", err
	}
	sess := &Session{Peer: p, room: room, log: log, published: map[webrtc.RTPCodecType]bool{}}
	p.OnClose(func() {
		room.ClearPublisher(p)
		room.Leave(sfu.RolePublisher)
	})
	p.PC.OnTrack(sess.onTrack)
	// The session takes the stage once it connects, not when it is answered: a second
	// publish that never connects must not end a working broadcast.
	p.OnConnected(func() { room.SetPublisher(p) })
	answer, err := p.Answer(offer)
	if err != nil {
		p.Close()
		return nil, "", err
	}
	return sess, answer, nil
}

// Room is the room the host publishes to.
func (s *Session) Room() *sfu.Room { return s.room }

// onTrack runs when the first packet of a published track arrives.
func (s *Session) onTrack(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	if !s.claim(t.Kind()) {
		// The stage has one audio and one video track per host; extra tracks are ignored.
		s.log.Warn("extra track ignored", zap.String("kind", t.Kind().String()))
		s.Go(func() { drain(t) })
		return
	}
	rcv, err := s.room.Publish(s.Peer, sfu.PublishedTrack{
		Source:    t,
		Codec:     t.Codec(),
		Kind:      t.Kind(),
		SSRC:      uint32(t.SSRC()),
		WriteRTCP: s.PC.WriteRTCP,
	})
	if err != nil {
		s.log.Warn("track not published", zap.Error(err))
		s.Go(func() { drain(t) })
		return
	}
	s.log.Info("track published", zap.String("kind", t.Kind().String()), zap.String("codec", t.Codec().MimeType))
	s.Go(rcv.Run)
	s.Go(func() { readSenderReports(recv, rcv) })
}

func (s *Session) claim(kind webrtc.RTPCodecType) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.published[kind] {
		return false
	}
	s.published[kind] = true
	return true
}

// readSenderReports drains the publisher's RTCP (pion's interceptors need it read) and
// passes its sender reports to the Receiver, which keeps the media clock.
func readSenderReports(recv *webrtc.RTPReceiver, rcv *sfu.Receiver) {
	buf := make([]byte, 1500)
	for {
		n, _, err := recv.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				rcv.OnSenderReport(sr)
			}
		}
	}
}

// drain reads and discards a track the room cannot take, so pion's buffers do not fill.
func drain(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := t.Read(buf); err != nil {
			return
		}
	}
}
