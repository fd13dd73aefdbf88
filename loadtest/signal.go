package loadtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// maxAnswerBytes bounds what a server may send back as an SDP answer.
const maxAnswerBytes = 256 << 10

// session is a WHIP or WHEP resource the load generator created.
type session struct {
	pc       *webrtc.PeerConnection
	location string
	token    string
	client   *http.Client
}

// newAPI builds the pion API every load-test peer uses: the feedback a browser sends
// (NACK, receiver reports, transport-wide congestion control) and, when the target is on
// loopback, loopback candidates only, so no test packet leaves the machine. With stamps,
// its sockets record when each RTP packet arrived (arrival.go): one API per viewer then.
func newAPI(target string, stamps *arrivals) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	// mid/rid header extensions, for publishing simulcast.
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
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
	// The SRTP replay window browsers use (libwebrtc, Firefox): pion's default of 64 drops
	// a retransmission of a packet lost early in a large keyframe, which a browser takes.
	se.SetSRTPReplayProtectionWindow(1024)
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	se.SetNet(bufferedNet{Net: n, stamps: stamps})
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if isLoopback(target) {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// udpBuffer sizes every client socket's kernel buffers: a keyframe is a burst of dozens of
// packets, which the default 208 KiB drops on a busy machine, and that loss would be the
// client's, not the server's.
const udpBuffer = 4 << 20

// mdnsPort is where pion's mDNS listener binds (RFC 6762).
const mdnsPort = 5353

// bufferedNet is the standard network with larger socket buffers and, for a viewer,
// kernel receive timestamps.
type bufferedNet struct {
	*stdnet.Net
	stamps *arrivals
}

func (n bufferedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(udpBuffer) // capped by net.core.rmem_max
	_ = c.SetWriteBuffer(udpBuffer)
	// Not the mDNS socket (pion's multicast listener on 5353): its reader goes through
	// x/net/ipv4 on the raw socket, and its Close then waits for ever behind the wrapper.
	if u, ok := c.(*net.UDPConn); ok && n.stamps != nil && (laddr == nil || laddr.Port != mdnsPort) {
		if s, ok := stampConn(u, n.stamps); ok {
			return s, nil
		}
	}
	return c, nil
}

func isLoopback(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// negotiate sends pc's offer (after ICE gathering) to endpoint and applies the answer.
func negotiate(ctx context.Context, client *http.Client, pc *webrtc.PeerConnection, endpoint, token string) (*session, error) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/sdp")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusCreated {
		err := fmt.Errorf("POST %s: %s: %s", endpoint, resp.Status, strings.TrimSpace(string(body)))
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			return nil, &retryError{err: err, status: resp.StatusCode, after: retryAfter(resp.Header.Get("Retry-After"))}
		}
		return nil, err
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("POST %s: no usable Location header: %w", endpoint, err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		return nil, fmt.Errorf("POST %s: bad answer: %w", endpoint, err)
	}
	return &session{pc: pc, location: loc.String(), token: token, client: client}, nil
}

// retryError is a refusal the server asked to be retried (429 or 503 with Retry-After).
type retryError struct {
	err    error
	status int // 429 or 503
	after  time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// retryAfter reads a Retry-After in seconds; absent or odd values mean one second.
func retryAfter(h string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n > 0 && n <= 60 {
		return time.Duration(n) * time.Second
	}
	return time.Second
}

// close deletes the resource (best effort, bounded) and closes the peer connection.
func (s *session) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.location, nil); err == nil {
		if s.token != "" {
			req.Header.Set("Authorization", "Bearer "+s.token)
		}
		if resp, err := s.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	_ = s.pc.Close()
}

// waitConnected waits for the peer connection to connect (ICE and DTLS done), to fail, or
// for ctx to end.
func waitConnected(ctx context.Context, pc *webrtc.PeerConnection, settled <-chan webrtc.PeerConnectionState) error {
	select {
	case s := <-settled:
		if s != webrtc.PeerConnectionStateConnected {
			return fmt.Errorf("ICE/DTLS did not complete: connection %s", s)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ICE/DTLS did not complete: %w (state %s)", ctx.Err(), pc.ConnectionState())
	}
}
