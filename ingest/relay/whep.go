package relay

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// maxAnswerBytes bounds the SDP answer an origin may send.
const maxAnswerBytes = 256 << 10

// newAPI is the pion API of the relays' PeerConnections: the feedback a browser viewer
// sends (NACK, receiver reports, transport-wide congestion control, so the origin repairs
// losses and measures the link) and, towards an origin on loopback (tests, or nodes on one
// machine), loopback candidates too. (loadtest builds its clients the same way; it may
// not import a server package, nor this one it.)
func newAPI(loopback bool) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(m, ir); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	// The replay window browsers use: pion's 64 drops a late retransmission.
	se.SetSRTPReplayProtectionWindow(1024)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	// An origin named by a loopback URL is on this machine: its SFU may answer with
	// loopback candidates or with the machine's own addresses, so offer both.
	se.SetIncludeLoopbackCandidate(loopback)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// isLoopback reports whether an origin's base URL names a loopback host.
func isLoopback(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// whepOffer posts offer to the origin's WHEP endpoint for room and returns its answer
// and the session's URL (for the DELETE that ends it).
func whepOffer(ctx context.Context, client *http.Client, base, room, token, offer string) (answer, location string, err error) {
	endpoint := strings.TrimSuffix(base, "/") + "/whep/" + url.PathEscape(room)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(offer))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		return "", "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes))
	if err != nil {
		return "", "", err
	}
	if res.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("origin %s answered %d: %s", endpoint, res.StatusCode, strings.TrimSpace(string(body)))
	}
	loc, err := res.Location()
	if err != nil {
		return "", "", fmt.Errorf("origin %s answered without a Location: %w", endpoint, err)
	}
	return string(body), loc.String(), nil
}

// whepDelete ends a WHEP session at the origin (best effort: the origin also ends it when
// the connection goes).
func whepDelete(client *http.Client, location, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, location, nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if res, err := client.Do(req); err == nil {
		_ = res.Body.Close()
	}
}
