package transcode

import (
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// collector reads one Track's Source as the SFU's Receiver would, keeping every packet.
type collector struct {
	track Track
	done  chan struct{}

	mu       sync.Mutex
	pkts     []rtp.Packet
	arrivals []time.Time // of each packet
	err      error
	started  time.Time // when collecting began
	first    time.Time // when the first packet arrived
}

func collect(tr Track) *collector {
	c := &collector{track: tr, done: make(chan struct{}), started: time.Now()}
	go func() {
		defer close(c.done)
		buf := make([]byte, 1500)
		for {
			n, _, err := tr.Source.Read(buf)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					c.mu.Lock()
					c.err = err
					c.mu.Unlock()
				}
				return
			}
			var p rtp.Packet
			if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			c.mu.Lock()
			if c.first.IsZero() {
				c.first = time.Now()
			}
			c.pkts = append(c.pkts, p)
			c.arrivals = append(c.arrivals, time.Now())
			c.mu.Unlock()
		}
	}()
	return c
}

// longestGap is the longest time between two packets that came between from and to,
// and when it ended.
func (c *collector) longestGap(from, to time.Time) (longest time.Duration, ended time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 1; i < len(c.arrivals); i++ {
		a, b := c.arrivals[i-1], c.arrivals[i]
		if a.Before(from) || b.After(to) {
			continue
		}
		if d := b.Sub(a); d > longest {
			longest, ended = d, b
		}
	}
	return longest, ended
}

// startup is how long the first packet took to come.
func (c *collector) startup() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first.IsZero() {
		return -1
	}
	return c.first.Sub(c.started)
}

// latency is the median time from a frame's write into the Ladder until its last packet
// came out, for frames completed between from and to. fedAt is when the frame of RTP time
// ts was written; the stream's first frame is taken to be the first one written (pts 0).
func (c *collector) latency(fedStart time.Time, from, to time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pkts) == 0 {
		return -1
	}
	ts0 := c.pkts[0].Timestamp
	rate := float64(c.track.Codec.ClockRate)
	var ds []time.Duration
	for i, p := range c.pkts {
		at := c.arrivals[i]
		if !p.Marker || at.Before(from) || at.After(to) {
			continue
		}
		fed := fedStart.Add(time.Duration(float64(p.Timestamp-ts0) / rate * float64(time.Second)))
		ds = append(ds, at.Sub(fed))
	}
	if len(ds) == 0 {
		return -1
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func (c *collector) packets() []rtp.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rtp.Packet(nil), c.pkts...)
}

// wait returns once the source has ended (after Close), failing the test if it does not.
func (c *collector) wait(t testing.TB) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("track %q: Source.Read did not return io.EOF after Close", c.track.RID)
	}
	if c.err != nil {
		t.Fatalf("track %q: %v", c.track.RID, c.err)
	}
}

// videoReport is what a viewer's decoder would make of one video Track.
type videoReport struct {
	width, height int
	profileIdc    uint8
	sps           []byte // the last SPS seen
	frames        int
	idrWithParams int // IDRs whose access unit carries SPS and PPS in front
	idrBare       int // IDRs without them: a viewer joining there could not decode
	tsBackwards   int // frames whose timestamp is not after the previous one: reordering
	seqGaps       int // packets missing from the sequence
}

func analyzeVideo(t testing.TB, pkts []rtp.Packet) videoReport {
	t.Helper()
	var r videoReport
	var dep codecs.H264Packet
	var nalus [][]byte
	var lastTS uint32
	for i, p := range pkts {
		if i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			r.seqGaps += int(p.SequenceNumber - pkts[i-1].SequenceNumber - 1)
		}
		b, err := dep.Unmarshal(p.Payload)
		if err != nil {
			t.Fatalf("depacketize: %v", err)
		}
		if len(b) > 0 {
			var ab h264.AnnexB
			if err := ab.Unmarshal(b); err != nil {
				t.Fatalf("annex-b: %v", err)
			}
			nalus = append(nalus, ab...)
		}
		if !p.Marker {
			continue
		}
		r.frames++
		if r.frames > 1 && int32(p.Timestamp-lastTS) <= 0 {
			r.tsBackwards++
		}
		lastTS = p.Timestamp
		r.frame(t, nalus)
		nalus = nil
	}
	return r
}

func (r *videoReport) frame(t testing.TB, au [][]byte) {
	hasSPS, hasPPS := false, false
	for _, n := range au {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			var s h264.SPS
			if err := s.Unmarshal(n); err != nil {
				t.Fatalf("SPS: %v", err)
			}
			r.width, r.height, r.profileIdc = s.Width(), s.Height(), s.ProfileIdc
			r.sps = append([]byte(nil), n...)
			hasSPS = true
		case h264.NALUTypePPS:
			hasPPS = true
		case h264.NALUTypeIDR:
			if hasSPS && hasPPS {
				r.idrWithParams++
			} else {
				r.idrBare++
			}
			return
		}
	}
}
