package rtmp

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/glintlive/glint/signaling/auth"
)

// parseTarget splits what a publisher named into the application and the stream key.
// gortmplib joins the connect command's tcUrl and the publish command's stream name into
// u, so OBS's server "rtmp://host/live" with key "TOKEN" and ffmpeg's
// "rtmp://host/live/TOKEN" both arrive as path "/live/TOKEN". A key may also come as
// ?token=… (some encoders only have a URL field). The room is not part of the URL: it
// is the token's room grant.
func parseTarget(u *url.URL) (app, key string, err error) {
	if u == nil {
		return "", "", fmt.Errorf("%w: no stream URL", ErrBadStreamKey)
	}
	path := strings.TrimPrefix(u.Path, "/")
	app, key, _ = strings.Cut(path, "/")
	if key == "" {
		key = u.Query().Get("token")
	}
	switch {
	case app == "":
		return "", "", fmt.Errorf("%w: no application in the URL", ErrWrongApp)
	case key == "":
		return app, "", fmt.Errorf("%w: empty; set the stream key to an access token (glint token --publish)", ErrBadStreamKey)
	case strings.Contains(key, "/"):
		return app, "", fmt.Errorf("%w: contains '/'; the server URL is rtmp://host/%s and the key is the token alone", ErrBadStreamKey, app)
	case len(key) > auth.MaxTokenLen:
		return app, "", fmt.Errorf("%w: longer than %d bytes", ErrBadStreamKey, auth.MaxTokenLen)
	}
	return app, key, nil
}
