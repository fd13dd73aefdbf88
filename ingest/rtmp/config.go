package rtmp

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/glintlive/glint/ingest/transcode"
	"github.com/glintlive/glint/roomname"
)

// Config tunes RTMP ingest. Start from DefaultConfig.
type Config struct {
	// Enabled turns RTMP ingest on; off, no port is bound.
	Enabled bool `yaml:"enabled"`
	// Addr is where plain RTMP listens, "host:port"; "" serves RTMPS only.
	Addr string `yaml:"addr"`
	// App is the RTMP application publishers name: OBS's server is rtmp://host/<App>.
	App string `yaml:"app"`
	// CertFile and KeyFile (PEM) turn on RTMPS on RTMPSAddr.
	CertFile  string `yaml:"cert_file"`
	KeyFile   string `yaml:"key_file"`
	RTMPSAddr string `yaml:"rtmps_addr"`
	// MaxConnections caps concurrent RTMP(S) connections, publishing or not; more are
	// closed at once. Each publish runs an ffmpeg ladder, so this is also a CPU cap.
	MaxConnections int `yaml:"max_connections"`
	// MaxUnauthenticated caps the connections that have not yet presented a valid stream
	// key. gortmplib sizes a message's buffer from the length its header declares (up to
	// 10 MiB) before the body arrives, so each such connection can hold that much for the
	// handshake timeout; this cap bounds the total, and keeps slots for real encoders.
	MaxUnauthenticated int `yaml:"max_unauthenticated"`
	// MaxUnauthenticatedPerAddress caps them per client address (IPv4 address, IPv6 /64),
	// so one address cannot take the whole budget. When either cap is full a newcomer is
	// not refused: it evicts the connection that has made least progress (see preAuthSet),
	// so clients that connect and stall cannot keep an encoder out.
	MaxUnauthenticatedPerAddress int `yaml:"max_unauthenticated_per_address"`
	// HandshakeTimeout bounds everything before media flows: the RTMP handshake (and TLS),
	// connect, publish and the codec probe. A silent or truncated handshake is dropped.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// FirstStageTimeout bounds the first stage of that: TLS and the RTMP C0/C1/C2
	// handshake, which a stalled client never finishes. It must stay well above what a
	// slow link needs: over a 300 ms round trip, RTMPS (TLS 1.2, two round trips) and the
	// RTMP handshake (one more) take about a second, and one lost segment costs another
	// (Linux's first retransmission timeout is 1 s); hence 3 s.
	FirstStageTimeout time.Duration `yaml:"first_stage_timeout"`
	// ReadTimeout ends a publishing connection that sends nothing for this long (an encoder
	// whose network died without closing TCP), so its host session is not held open.
	ReadTimeout time.Duration `yaml:"read_timeout"`

	// Transcode is the ffmpeg ladder: ffmpeg path, renditions, passthrough (auto|never),
	// x264 preset and the rest; its keys sit directly in the rtmp section.
	Transcode transcode.Config `yaml:",inline"`
}

// DefaultConfig is RTMP on :1935, app "live", RTMPS off until a certificate is given.
func DefaultConfig() Config {
	return Config{
		Enabled:                      true,
		Addr:                         ":1935",
		App:                          "live",
		RTMPSAddr:                    ":1936",
		MaxConnections:               32,
		MaxUnauthenticated:           8,
		MaxUnauthenticatedPerAddress: 4,
		HandshakeTimeout:             10 * time.Second,
		FirstStageTimeout:            3 * time.Second,
		ReadTimeout:                  10 * time.Second,
		Transcode:                    transcode.DefaultConfig(),
	}
}

// TLS reports whether RTMPS is configured.
func (c Config) TLS() bool { return c.CertFile != "" || c.KeyFile != "" }

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	if c.Addr == "" && !c.TLS() {
		return errors.New("rtmp: addr is empty and no cert_file/key_file is set: nothing to listen on (set enabled: false to turn RTMP off)")
	}
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return fmt.Errorf("rtmp: addr %q: %w", c.Addr, err)
		}
	}
	if c.TLS() {
		if c.CertFile == "" || c.KeyFile == "" {
			return errors.New("rtmp: RTMPS needs both cert_file and key_file")
		}
		if _, _, err := net.SplitHostPort(c.RTMPSAddr); err != nil {
			return fmt.Errorf("rtmp: rtmps_addr %q: %w", c.RTMPSAddr, err)
		}
	}
	if !roomname.Valid(c.App) {
		return fmt.Errorf("rtmp: app %q: want %s", c.App, roomname.Rule)
	}
	if c.MaxConnections < 1 {
		return fmt.Errorf("rtmp: max_connections %d: want at least 1", c.MaxConnections)
	}
	if c.MaxUnauthenticated < 1 {
		return fmt.Errorf("rtmp: max_unauthenticated %d: want at least 1", c.MaxUnauthenticated)
	}
	// Above max_unauthenticated it is simply that (a config that lowered only the total
	// before this setting existed keeps working).
	if c.MaxUnauthenticatedPerAddress < 1 {
		return fmt.Errorf("rtmp: max_unauthenticated_per_address %d: want at least 1", c.MaxUnauthenticatedPerAddress)
	}
	if c.HandshakeTimeout <= 0 || c.ReadTimeout <= 0 || c.FirstStageTimeout <= 0 {
		return fmt.Errorf("rtmp: handshake_timeout (%s), first_stage_timeout (%s) and read_timeout (%s) must be positive", c.HandshakeTimeout, c.FirstStageTimeout, c.ReadTimeout)
	}
	if err := c.Transcode.Defaults().Validate(); err != nil {
		return fmt.Errorf("rtmp: %w", err)
	}
	return nil
}
