package llhls

import (
	"errors"
	"net/http"
)

var (
	// ErrDisabled: LL-HLS is off in this server's config.
	ErrDisabled = errors.New("llhls: LL-HLS is disabled on this server")
	// ErrNoRoom: no such room on this node.
	ErrNoRoom = errors.New("llhls: no such room")
	// ErrNotLive: the room exists but nobody publishes video to it.
	ErrNotLive = errors.New("llhls: room is not live")
	// ErrVP8: the host publishes VP8, which HLS players cannot play.
	ErrVP8 = errors.New("llhls: the host publishes VP8 video; LL-HLS needs H.264 and this server has no ffmpeg to transcode it (publish H.264 over WHIP, or use RTMP, whose ladder is H.264)")
	// ErrStarting: the stream has no part yet (no keyframe within StartTimeout).
	ErrStarting = errors.New("llhls: stream is starting (no keyframe from the host yet); retry shortly")
	// ErrTooManyStreams: MaxStreams rooms are being muxed already.
	ErrTooManyStreams = errors.New("llhls: too many LL-HLS streams on this server")
	// ErrNotFound: no such playlist, part or segment (or it left the playlist window).
	ErrNotFound = errors.New("llhls: not found")
	// ErrFarFuture: a blocking request for a segment or part too far ahead (RFC 8216bis 6.2.5.2).
	ErrFarFuture = errors.New("llhls: _HLS_msn/_HLS_part too far ahead of the live edge")
	// ErrBadQuery: malformed _HLS_msn, _HLS_part or _HLS_skip.
	ErrBadQuery = errors.New("llhls: malformed blocking-reload query")
	// ErrTimeout: a blocking request's part did not appear within three target durations.
	ErrTimeout = errors.New("llhls: the requested part did not appear in time (the host may have stopped)")
	// ErrClosed: the stream ended while the request waited.
	ErrClosed = errors.New("llhls: stream ended")
	// ErrRestarted: the variant ended while the request waited (the host changed
	// resolution, republished or stopped the layer): a new one has new URIs and media
	// sequence numbers.
	ErrRestarted = errors.New("llhls: the variant restarted or stopped (the host changed resolution, republished or stopped the layer); reload the multivariant playlist")
)

// status maps an error to its HTTP status.
func status(err error) int {
	switch {
	case errors.Is(err, ErrBadQuery), errors.Is(err, ErrFarFuture):
		return http.StatusBadRequest
	case errors.Is(err, ErrTooManyStreams), errors.Is(err, ErrStarting), errors.Is(err, ErrTimeout), errors.Is(err, ErrClosed), errors.Is(err, ErrRestarted):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrDisabled), errors.Is(err, ErrNoRoom), errors.Is(err, ErrNotLive), errors.Is(err, ErrVP8), errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}
