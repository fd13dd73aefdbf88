package rtmp

import (
	"errors"

	"github.com/glintlive/glint/roomname"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/signaling/auth"
)

var (
	// ErrTooManyConnections: Config.MaxConnections connections are already open.
	ErrTooManyConnections = errors.New("rtmp: too many connections")
	// ErrTooManyUnauthenticated: Config.MaxUnauthenticated connections (or
	// MaxUnauthenticatedPerAddress from one address) have not yet presented a valid stream
	// key, and every one of them is having its key checked, so none can be evicted.
	ErrTooManyUnauthenticated = errors.New("rtmp: too many connections still authenticating")
	// ErrEvicted: the connection had not presented a valid stream key when the pre-auth
	// budget was full, and was the one doing least with its place, so a newcomer took it.
	ErrEvicted = errors.New("rtmp: dropped before authenticating to make room for a newer connection")
	// ErrReplaced: a newer publish for the same room took the stage while this one started.
	ErrReplaced = errors.New("rtmp: replaced by a newer publish for this room")
	// ErrStreamChanged: the encoder changed its video (size or profile) mid-stream.
	ErrStreamChanged = errors.New("rtmp: the video changed mid-stream; reconnect so it is probed again")
	// ErrPlayNotOffered: a client asked to play; Glint delivers over WebRTC and LL-HLS only.
	ErrPlayNotOffered = errors.New("rtmp: playback over RTMP is not offered; watch over WebRTC (WHEP) or LL-HLS")
	// ErrWrongApp: the publish URL names another application than Config.App.
	ErrWrongApp = errors.New("rtmp: wrong application")
	// ErrBadStreamKey: the stream key is missing or not shaped like an access token.
	ErrBadStreamKey = errors.New("rtmp: bad stream key")
	// ErrNoTranscoder: ffmpeg is not available, so RTMP streams cannot be taken.
	ErrNoTranscoder = errors.New("rtmp: no transcoder (ffmpeg) available")
	// ErrUnsupportedCodec: the stream carries a codec other than H.264 video and AAC audio.
	ErrUnsupportedCodec = errors.New("rtmp: unsupported codec")
	// ErrBadStream: the stream's headers could not be read (no usable track, broken SPS).
	ErrBadStream = errors.New("rtmp: unusable stream")
	// ErrTranscoder: the transcoder did not start.
	ErrTranscoder = errors.New("rtmp: transcoder failed")
)

// reason is the metrics label and log field for why a connection was refused.
func reason(err error) string {
	switch {
	case errors.Is(err, ErrTooManyConnections):
		return "connection_limit"
	case errors.Is(err, ErrTooManyUnauthenticated):
		return "unauthenticated_limit"
	case errors.Is(err, ErrEvicted):
		return "evicted"
	case errors.Is(err, ErrReplaced):
		return "replaced"
	case errors.Is(err, ErrStreamChanged):
		return "stream_changed"
	case errors.Is(err, ErrPlayNotOffered):
		return "play"
	case errors.Is(err, ErrWrongApp):
		return "wrong_app"
	case errors.Is(err, ErrBadStreamKey), errors.Is(err, auth.ErrMissingToken), errors.Is(err, auth.ErrInvalidToken):
		return "bad_token"
	case errors.Is(err, auth.ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrNoTranscoder):
		return "no_transcoder"
	case errors.Is(err, ErrUnsupportedCodec):
		return "unsupported_codec"
	case errors.Is(err, ErrBadStream):
		return "bad_stream"
	case errors.Is(err, ErrTranscoder):
		return "transcoder_failed"
	case errors.Is(err, sfu.ErrTooManyRooms), errors.Is(err, roomname.ErrInvalid), errors.Is(err, sfu.ErrClosed):
		return "room"
	}
	return "handshake"
}
