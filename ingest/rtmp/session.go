package rtmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// publish runs a probed stream: a ladder for it, a host session on the room's stage fed
// by the ladder's tracks, and the read loop feeding the ladder, until the host goes away
// or a newer session of the room's host replaces this one.
func (s *Server) publish(nc net.Conn, sc *gortmplib.ServerConn, t target, src Source, buffered []event, log *zap.Logger) {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	ladder, err := s.opts.Ladder(ctx, src, log)
	if err != nil {
		s.reject(nc, sc, fmt.Errorf("%w: %v", ErrTranscoder, err), log)
		return
	}
	audio := newSourceAudio(src, ladder.Passthrough())
	p, err := s.stage(nc, t, ladder, audio, src.AudioConfig, log)
	if err != nil {
		_ = ladder.Close()
		s.reject(nc, sc, err, log)
		return
	}
	publishesTotal.Inc()
	publishingGauge.Inc()
	defer publishingGauge.Dec()
	host := Host{Room: t.room, Identity: t.identity, Since: time.Now().UTC()}
	s.hosts.add(p, host)
	s.tellHost(true, host)
	defer func() {
		s.hosts.remove(p)
		s.tellHost(false, host)
	}()
	log.Info("RTMP host publishing", zap.Int("width", src.Width), zap.Int("height", src.Height),
		zap.Float64("fps", src.FPS), zap.String("profile_level_id", src.ProfileLevelID), zap.Bool("b_frames", src.BFrames),
		zap.Bool("audio", src.HasAudio), zap.Bool("passthrough", ladder.Passthrough()), zap.Int("tracks", len(ladder.Tracks())))

	f := &feeder{ladder: ladder, src: src, audio: audio}
	err = f.run(buffered, func() (event, error) { return s.next(nc, sc) })
	switch {
	case s.ctx.Err() != nil:
		log.Info("RTMP host session ended: the server is shutting down")
	case s.hosts.endedByAPI(p):
		log.Info("RTMP host session ended by the room API")
	case p.Closing():
		log.Info("RTMP host session replaced by a newer one")
	case err != nil && !isNetErr(err):
		log.Warn("RTMP host stream ended", zap.Error(err))
	default:
		log.Info("RTMP host disconnected")
	}
	p.Close()
}

// stage creates the host session and puts the ladder's tracks on the room's stage; the
// session replaces any earlier host session of the room (an encoder reconnecting after a
// network blip), and its viewers carry on with the new tracks. The host's AAC, when it can
// be carried as it came, is offered beside them (audio; config is its AudioSpecificConfig).
func (s *Server) stage(nc net.Conn, t target, ladder Ladder, audio *sourceAudio, config []byte, log *zap.Logger) (*sfu.Peer, error) {
	room, err := s.opts.SFU.Join(t.room, sfu.RolePublisher)
	if err != nil {
		return nil, err
	}
	p, err := s.opts.SFU.NewIngestPeer(log)
	if err != nil {
		room.Leave(sfu.RolePublisher)
		return nil, err
	}
	p.OnClose(func() {
		room.ClearPublisher(p)
		room.Leave(sfu.RolePublisher)
	})
	// The session ends when the host disconnects, the room gets a newer host session or
	// the SFU shuts down: in every case the connection and the ladder go with it, and
	// closing the ladder ends its tracks, so the Receivers return and Close can finish.
	p.Go(func() {
		<-p.Stopping()
		_ = nc.Close()
		_ = ladder.Close()
	})
	for _, tr := range ladder.Tracks() {
		rcv, err := room.Publish(p, tr)
		if err != nil {
			p.Close()
			if errors.Is(err, sfu.ErrReplaced) {
				return nil, ErrReplaced
			}
			return nil, fmt.Errorf("%w: %v", ErrTranscoder, err)
		}
		if !p.Go(rcv.Run) {
			rcv.Abandon()
			p.Close()
			return nil, sfu.ErrClosed
		}
		report := rcv.OnSenderReport
		if tr.Kind == webrtc.RTPCodecTypeVideo {
			report = func(sr *rtcp.SenderReport) {
				audio.videoReport(sr)
				rcv.OnSenderReport(sr)
			}
		}
		ladder.OnSenderReport(tr.SSRC, report)
	}
	ladder.OnShed(func(what string, reduced bool) {
		if !reduced {
			room.SetHostReduced(p, "") // viewers get all the host sends again: room.quality {"reduced":false}
			return
		}
		room.SetHostReduced(p, "the server cannot transcode this stream in real time, so it "+what)
	})
	if !audio.offer(room, p, config) {
		p.Close()
		return nil, ErrReplaced
	}
	return p, nil
}

// next reads the following media event; the read timeout ends a connection that went
// silent without closing. The deadline covers writes too: gortmplib acknowledges every
// window of bytes from inside Read, and the handshake's deadline must not outlive the
// handshake (it cut every stream off at its first acknowledgement, ~2.5 MB in).
func (s *Server) next(nc net.Conn, sc *gortmplib.ServerConn) (event, error) {
	for {
		_ = nc.SetDeadline(time.Now().Add(s.cfg.ReadTimeout))
		msg, err := sc.Read()
		if err != nil {
			return event{}, readError(err)
		}
		ev, err := demux(msg)
		if err != nil {
			return event{}, err
		}
		if ev.kind != evNone {
			return ev, nil
		}
	}
}

// tellHost tells Options.OnHost that a host joined or left.
func (s *Server) tellHost(joined bool, h Host) {
	if s.opts.OnHost != nil {
		s.opts.OnHost(joined, h)
	}
}
