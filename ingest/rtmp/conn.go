package rtmp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
	"go.uber.org/zap"

	"github.com/glintlive/glint/roomname"
	"github.com/glintlive/glint/signaling/auth"
)

// handle serves one connection from accept to close; it leaves the pre-auth set once the
// client's stream key is accepted.
func (s *Server) handle(nc *budgetConn) {
	log := s.log.With(zap.Stringer("remote", nc.RemoteAddr()))
	// Everything up to the first media must finish within the handshake timeout: a
	// client that connects and says nothing, or stops halfway, holds a slot no longer.
	// The C0/C1/C2 handshake (and TLS) has a shorter deadline of its own, see
	// Config.FirstStageTimeout. Until it is authorised the client may not send more than a
	// handshake's worth either.
	now := time.Now()
	nc.fullDeadline = now.Add(s.cfg.HandshakeTimeout)
	_ = nc.SetDeadline(now.Add(min(s.cfg.FirstStageTimeout, s.cfg.HandshakeTimeout)))
	sc := &gortmplib.ServerConn{RW: nc}
	if err := sc.Initialize(); err != nil {
		s.refuse(fmt.Errorf("handshake: %w", err), log)
		return
	}
	if err := sc.AcceptConn(); err != nil {
		s.refuse(fmt.Errorf("connect: %w", err), log)
		return
	}
	if !nc.beginAdmit() { // connect and publish are in: no longer evictable, unless evicted already
		s.refuse(fmt.Errorf("connect: %w", ErrEvicted), log)
		return
	}
	target, err := s.admit(sc)
	if err != nil {
		nc.endAdmit()
		s.reject(nc, sc, err, log)
		return
	}
	nc.unlimit()
	s.preAuth.remove(nc)
	log = log.With(zap.String("room", target.room), zap.String("identity", target.identity))
	if err := sc.AcceptAction(); err != nil {
		s.refuse(fmt.Errorf("publish start: %w", err), log)
		return
	}
	src, buffered, err := s.probe(sc)
	if err != nil {
		if isNetErr(err) {
			s.refuse(fmt.Errorf("before the first media: %w", err), log)
			return
		}
		s.reject(nc, sc, err, log)
		return
	}
	s.publish(nc, sc, target, src, buffered, log)
}

// target is who publishes where, from the stream key.
type target struct {
	room, identity string
}

// admit decides whether the client may publish, before anything is accepted: only
// publishing, the configured application, a valid token with canPublish for its room,
// and a transcoder to run.
func (s *Server) admit(sc *gortmplib.ServerConn) (target, error) {
	if !sc.Publish {
		return target{}, ErrPlayNotOffered
	}
	app, key, err := parseTarget(sc.URL)
	if err != nil {
		return target{}, err
	}
	if app != s.cfg.App {
		return target{}, fmt.Errorf("%w %q: publish to rtmp://host/%s", ErrWrongApp, app, s.cfg.App)
	}
	claims, err := s.opts.Verifier.Verify(key)
	if err != nil {
		return target{}, fmt.Errorf("stream key: %w", err)
	}
	if err := claims.Allow(claims.Room, auth.PermPublish); err != nil {
		return target{}, err
	}
	if !roomname.Valid(claims.Room) {
		return target{}, fmt.Errorf("%w: %q", roomname.ErrInvalid, claims.Room)
	}
	if s.opts.Unavailable != nil {
		return target{}, fmt.Errorf("%w: %v", ErrNoTranscoder, s.opts.Unavailable)
	}
	return target{room: claims.Room, identity: claims.Identity}, nil
}

// probe reads the stream's first messages until its tracks are known.
func (s *Server) probe(sc *gortmplib.ServerConn) (Source, []event, error) {
	var p prober
	for {
		msg, err := sc.Read()
		if err != nil {
			return Source{}, nil, readError(err)
		}
		ev, err := demux(msg)
		if err != nil {
			return Source{}, nil, err
		}
		done, err := p.add(ev)
		if err != nil {
			return Source{}, nil, err
		}
		if done {
			return p.src, p.buffered, nil
		}
	}
}

// readError tells a broken connection from a stream gortmplib could not parse: the first
// is the client's business, the second is worth telling the client and the log.
func readError(err error) error {
	if isNetErr(err) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrBadStream, err)
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// reject tells the client why (ffmpeg prints "Server error: <description>", OBS logs it),
// counts and logs the refusal, and closes cleanly.
func (s *Server) reject(nc net.Conn, sc *gortmplib.ServerConn, err error, log *zap.Logger) {
	s.refuse(err, log)
	code := "NetStream.Publish.Rejected"
	switch reason(err) {
	case "bad_token", "forbidden":
		code = "NetStream.Publish.Unauthorized"
	case "wrong_app", "replaced":
		code = "NetStream.Publish.BadName" // as other servers answer a name already taken
	case "play":
		code = "NetStream.Play.Failed"
	}
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_ = sc.Write(&message.CommandAMF0{
		ChunkStreamID:   5,
		MessageStreamID: 0x1000000, // stream 1, as gortmplib writes it
		Name:            "onStatus",
		Arguments: []any{nil, amf0.Object{
			{Key: "level", Value: "error"},
			{Key: "code", Value: code},
			{Key: "description", Value: "glint: " + err.Error()},
		}},
	})
	lingerClose(nc)
}

// lingerClose half-closes and drains briefly before closing, so the client reads the
// rejection instead of a connection reset that would discard it.
func lingerClose(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = nc.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.Copy(io.Discard, io.LimitReader(nc, 1<<20))
	_ = nc.Close()
}
