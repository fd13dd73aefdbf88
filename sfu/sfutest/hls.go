package sfutest

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// Get fetches u, which must answer 200, with a 10 s timeout and a 16 MiB bound.
func Get(u string) ([]byte, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(u)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, res.Status, b)
	}
	return b, nil
}

// GetPlaylist fetches and parses an HLS playlist of the kind T (*playlist.Multivariant or
// *playlist.Media).
func GetPlaylist[T playlist.Playlist](u string) (T, error) {
	var zero T
	b, err := Get(u)
	if err != nil {
		return zero, err
	}
	pl, err := playlist.Unmarshal(b)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", u, err)
	}
	p, ok := pl.(T)
	if !ok {
		return zero, fmt.Errorf("%s: a %T, not a %T", u, pl, zero)
	}
	return p, nil
}
