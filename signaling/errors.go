package signaling

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/glintlive/glint/roomname"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/signaling/auth"
)

var (
	errNoSession      = errors.New("no such session")
	errNoRoom         = errors.New("no such room: anonymous viewers can only join a room that exists")
	errTooManyCands   = errors.New("too many ICE candidates for this session")
	errTooManySession = errors.New("too many sessions on this server")
	errContentType    = errors.New("wrong content type")
	errTooLarge       = errors.New("request body too large")
	errICERestart     = errors.New("ICE restart is not supported; start a new session")
	errETag           = errors.New("If-Match does not match the session's ETag")
	errRateLimited    = errors.New("too many requests from this address")
	errPatchRate      = errors.New("too many PATCH requests for this session")
	errNotYours       = fmt.Errorf("%w: this session was created by another identity; only that identity or a roomAdmin of the room may change or end it", auth.ErrForbidden)
	errBadRequest     = errors.New("bad request")
	errRoomNotOpen    = errors.New("room not open")
	errUnavailable    = errors.New("temporarily unavailable; retry")
)

// statusOf maps an error from any layer to the HTTP status a client should see.
func statusOf(err error) int {
	switch {
	case errors.Is(err, auth.ErrMissingToken), errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrForbidden):
		return auth.HTTPStatus(err)
	case errors.Is(err, errNoSession), errors.Is(err, errNoRoom), errors.Is(err, sfu.ErrNoRoom), errors.Is(err, errRoomNotOpen),
		errors.Is(err, errNotLiveYet):
		return http.StatusNotFound
	case errors.Is(err, errContentType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errETag):
		return http.StatusPreconditionFailed
	case errors.Is(err, sfu.ErrNotLayered):
		return http.StatusConflict
	case errors.Is(err, errICERestart):
		return http.StatusUnprocessableEntity
	case errors.Is(err, errRateLimited), errors.Is(err, errPatchRate), errors.Is(err, errTooManyWaitingHere):
		return http.StatusTooManyRequests
	case errors.Is(err, sfu.ErrRoomFull), errors.Is(err, sfu.ErrNodeFull), errors.Is(err, sfu.ErrTooManyRooms), errors.Is(err, errTooManySession),
		errors.Is(err, sfu.ErrClosed), errors.Is(err, sfu.ErrBusy), errors.Is(err, errUnavailable), errors.Is(err, errTooManyWaiting):
		return http.StatusServiceUnavailable
	case errors.Is(err, errTooManyCands):
		return http.StatusTooManyRequests
	case errors.Is(err, sfu.ErrBadOffer), errors.Is(err, sfu.ErrNoMedia), errors.Is(err, sfu.ErrBadCandidate),
		errors.Is(err, roomname.ErrInvalid), errors.Is(err, sfu.ErrUnsupportedCodec), errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// writeError answers with the status for err and a one-line plain-text reason. Internal
// errors are logged by the caller and shown to the client without detail.
func writeError(w http.ResponseWriter, err error) {
	status := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		msg = "internal error"
	}
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(1))
	case errors.Is(err, errNotLiveYet): // a 404 worth retrying: the host may start any moment
		w.Header().Set("Retry-After", notLiveRetryAfter)
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="glint"`)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}
