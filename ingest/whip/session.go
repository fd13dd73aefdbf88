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
	published map[string]bool // kind + rid: one audio track and one video track (up to 3 layers)
}

// Publish admits a host to a room and answers its offer. The new session replaces any
// earlier host session of the room, so a host who reconnects resumes every viewer at once.
func Publish(s *sfu.SFU, roomName, offer string, log *zap.Logger) (*Session, string, error) {
	return PublishWith(s, roomName, offer, sfu.SessionOptions{}, log)
}

// PublishWith is Publish for a session whose client is known (opts.Client: the per-client
// handshake cap; signaling passes the client's address).
func PublishWith(s *sfu.SFU, roomName, offer string, opts sfu.SessionOptions, log *zap.Logger) (*Session, string, error) {
	// An offer with no codec the SFU forwards is refused here (ErrUnsupportedCodec, naming
	// what was offered and what is taken), before it can be counted as a publisher.
	if err := sfu.CheckOffer(offer, sfu.RolePublisher); err != nil {
		return nil, "", err
	}
	// An offer with one usable section is taken: a host whose camera sends AV1 still goes
	// live with its Opus audio, as a browser would. The answer rejects the rest; say so.
	warnRefusals(log, sfu.OfferRefusals(offer, sfu.RolePublisher))
	room, err := s.Join(roomName, sfu.RolePublisher)
	if err != nil {
		return nil, "", err
	}
	p, err := s.NewPeer(sfu.RolePublisher, opts, log)
	if err != nil {
		room.Leave(sfu.RolePublisher)
		return nil, "", err
	}
	sess := &Session{Peer: p, room: room, log: log, published: map[string]bool{}}
	p.OnClose(func() {
		room.ClearPublisher(p)
		room.Leave(sfu.RolePublisher)
	})
	p.PC.OnTrack(sess.onTrack)
	// The session takes the stage once it connects, not when it is answered: a second
	// publish that never connects must not end a working broadcast.
	p.OnConnected(func() {
		if !room.SetPublisher(p) {
			// A newer session of this room's host connected first: this one is stale.
			go p.Close()
		}
	})
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
	if !s.claim(t.Kind(), t.RID()) {
		// The stage has one audio and one video track per host; extra tracks are ignored.
		s.log.Warn("extra track ignored", zap.String("kind", t.Kind().String()))
		s.Go(func() { drain(t) })
		return
	}
	rcv, err := s.room.Publish(s.Peer, sfu.PublishedTrack{
		Source:    t,
		RID:       t.RID(),
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
	s.log.Info("track published", zap.String("kind", t.Kind().String()), zap.String("codec", t.Codec().MimeType), zap.String("rid", t.RID()))
	if !s.Go(rcv.Run) {
		rcv.Abandon() // the session closed before the track could start
		return
	}
	rid := t.RID()
	s.Go(func() { ReadSenderReports(recv, rid, rcv, s.Peer) })
}

func (s *Session) claim(kind webrtc.RTPCodecType, rid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := kind.String() + "/" + rid
	if s.published[key] {
		return false
	}
	s.published[key] = true
	return true
}

// ReadSenderReports drains the publisher's RTCP (pion's interceptors need it read) and
// passes its sender reports to the Receiver, which keeps the media clock. Every report
// also tells the room the host is still there (a muted host sends little RTP).
func ReadSenderReports(recv *webrtc.RTPReceiver, rid string, rcv *sfu.Receiver, host *sfu.Peer) {
	buf := make([]byte, 1500)
	for {
		var n int
		var err error
		if rid == "" {
			n, _, err = recv.Read(buf)
		} else {
			n, _, err = recv.ReadSimulcast(buf, rid) // one RTCP stream per layer
		}
		if err != nil {
			return
		}
		host.Heard()
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
