package sfu

import (
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/pion/transport/v5"
)

// Config tunes the SFU. The zero value is not valid; start from DefaultConfig.
type Config struct {
	// UDPAddr is the one UDP address every ICE session shares (ICE UDP mux), "host:port".
	UDPAddr string `yaml:"udp_addr"`
	// PublicIPs replace the host candidates' addresses (for 1:1 NAT such as cloud VMs).
	PublicIPs []string `yaml:"public_ips"`
	// IncludeLoopback offers 127.0.0.1 candidates: needed for peers on the same machine.
	IncludeLoopback bool `yaml:"include_loopback"`
	// ICEServers are handed to clients (WHIP/WHEP Link headers) and used by the server.
	ICEServers []string `yaml:"ice_servers"`
	// UDPBufferBytes sizes the media socket's kernel buffers. One port carries every
	// session, and a publisher's keyframe arrives as a burst of dozens of packets: the
	// kernel's default (208 KiB) overflows and drops them. The kernel caps the value at
	// net.core.rmem_max / wmem_max; raise those on busy servers.
	UDPBufferBytes int `yaml:"udp_buffer_bytes"`

	// MaxRooms bounds the rooms this node holds at once.
	MaxRooms int `yaml:"max_rooms"`
	// MaxViewersPerRoom is a fixed cap on a room's viewers; 0 (the default) leaves it to
	// the measured limits below, which follow what this machine carries.
	MaxViewersPerRoom int `yaml:"max_viewers_per_room"`
	// MaxFanoutLoad admits a viewer to a room only while the room's busiest track spends
	// at most this share of the wall clock sending frames to its viewers, counting the
	// newcomer (see capacity.go); 0 turns the check off. The default, 0.3, held 299 viewers
	// of a 2.5 Mbit/s stream on one core of the 2-core VM at p99 77-91 ms (the keyframes'
	// fan-out sets the tail): docs/BENCHMARKS.md.
	MaxFanoutLoad float64 `yaml:"max_fanout_load"`
	// MaxCPULoad admits a viewer to the node only while this process uses at most this
	// share of its GOMAXPROCS cores, counting the newcomer; 0 turns the check off.
	MaxCPULoad float64 `yaml:"max_cpu_load"`

	// MaxHandshakes bounds the sessions being set up at once, from offer to DTLS connected
	// (or failed, or closed, or HandshakeLease passed); a burst beyond it waits up to
	// HandshakeWait for a slot and is then refused with ErrBusy. One client (SessionOptions'
	// Client) holds at most MaxHandshakesPerClient slots and beyond that is refused at once.
	// Default: 8 per GOMAXPROCS, at least 16.
	MaxHandshakes int `yaml:"max_handshakes"`
	// MaxHandshakesPerClient caps one client address's share of MaxHandshakes, so that one
	// address cannot take every slot; 0 means max(2, MaxHandshakes/4). A crowd behind one
	// NAT joins that many at a time (the rest are told to retry), so a venue that sends
	// thousands of viewers through one address raises it.
	MaxHandshakesPerClient int `yaml:"max_handshakes_per_client"`
	// HandshakeWait is how long a new session waits for a handshake slot before ErrBusy.
	HandshakeWait time.Duration `yaml:"handshake_wait"`
	// HandshakeLease is the longest a session holds its handshake slot: a DTLS handshake
	// takes tens of ms on a LAN and about 1 s on a bad mobile link, and a client that never
	// connects must not keep a slot until ConnectTimeout. The session itself goes on and is
	// reaped at ConnectTimeout as before. 100ms..ConnectTimeout.
	HandshakeLease time.Duration `yaml:"handshake_lease"`
	// ConnectTimeout reaps a session whose ICE/DTLS does not complete in time.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// DisconnectTimeout is how long a session may lose connectivity before it is reaped.
	DisconnectTimeout time.Duration `yaml:"disconnect_timeout"`
	// HostTimeout is how long a live host may send nothing at all (no RTP, no RTCP) before
	// viewers are told it is gone (room.ended, reason "gone"). A live sender is never that
	// quiet: browsers send RTCP sender reports about every second, muted or not. Detection
	// takes at most HostTimeout plus a tenth of it; the default keeps it, with telling
	// viewers, under 3 s. The session itself is reaped later, by DisconnectTimeout.
	HostTimeout time.Duration `yaml:"host_timeout"`
	// EmptyRoomTimeout is how long a room with nobody in it is kept before it is removed.
	EmptyRoomTimeout time.Duration `yaml:"empty_room_timeout"`
	// KeyframeInterval is the minimum gap between keyframe requests sent to a publisher;
	// requests from many viewers within it are coalesced into one. It bounds join time
	// (a viewer waits at most this long for its first picture, plus one RTT) against the
	// publisher's bitrate (at most 1/interval keyframes a second while viewers join).
	KeyframeInterval time.Duration `yaml:"keyframe_interval"`
	// VideoCachePackets and AudioCachePackets size each Receiver's retransmission cache
	// (rounded up to a power of two). 1024 packets of 2.5 Mbit/s video is about 4 s.
	VideoCachePackets int `yaml:"video_cache_packets"`
	AudioCachePackets int `yaml:"audio_cache_packets"`

	// FanoutWorkers is how many goroutines fan a large room's frames out to its viewers at
	// once, the track's own included; 0 means GOMAXPROCS (the cores Go may use), and 1 keeps
	// all of a track's fan-out on its one goroutine. It also splits each media socket's send
	// queue into as many lanes (about 250 KiB each).
	FanoutWorkers int `yaml:"fanout_workers"`
	// FanoutParallelMin is the number of viewers of one track from which its fan-out is
	// split over the workers; below it, handing work around costs more than it saves.
	FanoutParallelMin int `yaml:"fanout_parallel_min"`
	// Pacing spreads each viewer's bursts (a keyframe is dozens to hundreds of datagrams) at
	// 2.5 times the viewer's bandwidth estimate rather than sending them at line rate, where
	// they overflow the viewer's socket buffer or the path's queue (sfu/pacer.go). Viewers
	// without an estimate (a host without simulcast) are not paced. Default on.
	Pacing bool `yaml:"pacing"`
	// DynacastWarmup is how long a host session that can pause layers (dynacast) is asked
	// for every layer once its simulcast video is on the stage, whoever watches. A browser
	// probes its uplink as it starts, up to what its layers are allocated: a host paused
	// down to q from its first moment (it went live before its audience) probed for q
	// alone and then climbed back slowly when viewers came for f. 0 turns it off.
	DynacastWarmup time.Duration `yaml:"dynacast_warmup"`

	// Net replaces the host's network, for tests on pion's virtual network (transport/vnet),
	// where links with a set rate, delay and loss can be built in-process. UDPAddr must then
	// name the virtual address. Media sockets on it send one datagram at a time (no GSO).
	Net transport.Net `yaml:"-"`
}

// DefaultConfig returns the settings `glint serve` starts with.
func DefaultConfig() Config {
	return Config{
		UDPAddr:           ":7881",
		IncludeLoopback:   true,
		UDPBufferBytes:    4 << 20,
		MaxRooms:          1000,
		MaxFanoutLoad:     0.3,
		MaxCPULoad:        0.85,
		MaxHandshakes:     max(16, 8*runtime.GOMAXPROCS(0)),
		HandshakeWait:     time.Second,
		HandshakeLease:    3 * time.Second,
		ConnectTimeout:    15 * time.Second,
		DisconnectTimeout: 10 * time.Second,
		HostTimeout:       2 * time.Second,
		EmptyRoomTimeout:  30 * time.Second,
		KeyframeInterval:  200 * time.Millisecond,
		VideoCachePackets: 1024,
		AudioCachePackets: 128,
		FanoutParallelMin: 32,
		Pacing:            true,
		DynacastWarmup:    5 * time.Second,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.UDPAddr); err != nil {
		return fmt.Errorf("sfu: udp_addr %q: %w", c.UDPAddr, err)
	}
	if host, _, _ := net.SplitHostPort(c.UDPAddr); c.Net != nil && net.ParseIP(host) == nil {
		return fmt.Errorf("sfu: udp_addr %q: a virtual network needs an IP address", c.UDPAddr)
	}
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("sfu: public_ips: %q is not an IP address", ip)
		}
	}
	switch {
	case c.UDPBufferBytes < 64<<10 || c.UDPBufferBytes > 1<<30:
		return fmt.Errorf("sfu: udp_buffer_bytes must be 64KiB..1GiB, got %d", c.UDPBufferBytes)
	case c.MaxRooms < 1:
		return fmt.Errorf("sfu: max_rooms must be at least 1, got %d", c.MaxRooms)
	case c.MaxViewersPerRoom < 0:
		return fmt.Errorf("sfu: max_viewers_per_room must be 0 (measured) or more, got %d", c.MaxViewersPerRoom)
	case c.MaxFanoutLoad < 0 || c.MaxFanoutLoad > 1:
		return fmt.Errorf("sfu: max_fanout_load must be 0 (off) to 1, got %v", c.MaxFanoutLoad)
	case c.MaxCPULoad < 0 || c.MaxCPULoad > 1:
		return fmt.Errorf("sfu: max_cpu_load must be 0 (off) to 1, got %v", c.MaxCPULoad)
	case c.MaxHandshakes < 1 || c.MaxHandshakes > 100_000:
		return fmt.Errorf("sfu: max_handshakes must be 1..100000, got %d", c.MaxHandshakes)
	case c.MaxHandshakesPerClient < 0 || c.MaxHandshakesPerClient > c.MaxHandshakes:
		return fmt.Errorf("sfu: max_handshakes_per_client must be 0..max_handshakes (%d), got %d", c.MaxHandshakes, c.MaxHandshakesPerClient)
	case c.HandshakeWait < 0 || c.HandshakeWait > time.Minute:
		return fmt.Errorf("sfu: handshake_wait must be 0..1m, got %s", c.HandshakeWait)
	case c.ConnectTimeout < time.Second:
		return fmt.Errorf("sfu: connect_timeout must be at least 1s, got %s", c.ConnectTimeout)
	case c.HandshakeLease < 100*time.Millisecond || c.HandshakeLease > c.ConnectTimeout:
		return fmt.Errorf("sfu: handshake_lease must be 100ms..connect_timeout (%s), got %s", c.ConnectTimeout, c.HandshakeLease)
	case c.DisconnectTimeout < time.Second:
		return fmt.Errorf("sfu: disconnect_timeout must be at least 1s, got %s", c.DisconnectTimeout)
	case c.HostTimeout < time.Second || c.HostTimeout > time.Minute:
		// Shorter than the sender-report interval, a muted host would flap live and gone.
		return fmt.Errorf("sfu: host_timeout must be 1s..1m, got %s", c.HostTimeout)
	case c.EmptyRoomTimeout < 0:
		return fmt.Errorf("sfu: empty_room_timeout must not be negative")
	case c.KeyframeInterval < 50*time.Millisecond:
		return fmt.Errorf("sfu: keyframe_interval must be at least 50ms, got %s", c.KeyframeInterval)
	case c.VideoCachePackets < 64 || c.VideoCachePackets > 1<<15:
		return fmt.Errorf("sfu: video_cache_packets must be 64..32768, got %d", c.VideoCachePackets)
	case c.AudioCachePackets < 16 || c.AudioCachePackets > 1<<15:
		return fmt.Errorf("sfu: audio_cache_packets must be 16..32768, got %d", c.AudioCachePackets)
	case c.FanoutWorkers < 0 || c.FanoutWorkers > maxFanoutWorkers:
		return fmt.Errorf("sfu: fanout_workers must be 0..%d (0: one per core), got %d", maxFanoutWorkers, c.FanoutWorkers)
	case c.DynacastWarmup < 0 || c.DynacastWarmup > time.Minute:
		return fmt.Errorf("sfu: dynacast_warmup must be 0 (off) to 1m, got %s", c.DynacastWarmup)
	case c.FanoutParallelMin < 1:
		return fmt.Errorf("sfu: fanout_parallel_min must be at least 1, got %d", c.FanoutParallelMin)
	}
	return nil
}

// fanoutWorkers resolves FanoutWorkers' 0 to the cores Go may use, within the bound.
func (c Config) fanoutWorkers() int {
	if c.FanoutWorkers > 0 {
		return c.FanoutWorkers
	}
	return min(runtime.GOMAXPROCS(0), maxFanoutWorkers)
}
