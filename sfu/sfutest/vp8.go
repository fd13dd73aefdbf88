package sfutest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/simulcast"
)

// VP8Publisher is a pion host sending one VP8 video track with three temporal layers
// (L1T3, as browsers encode: temporal ids 0 2 1 2 ...), with 15-bit picture IDs and
// TL0PICIDX. Frames are synthetic (the SFU never decodes): a keyframe header where it
// matters and filler.
type VP8Publisher struct {
	PC        *webrtc.PeerConnection
	track     *webrtc.TrackLocalStaticRTP
	keyWanted atomic.Bool
}

// VP8 frame sizes by temporal layer at 30 fps: TL0 180 kbit/s, TL1 90, TL2 90.
var vp8LayerSize = [3]int{3000, 1500, 750}

// NewVP8Publisher connects through signal and waits until media can flow.
func NewVP8Publisher(ctx context.Context, signal Signal) (*VP8Publisher, error) {
	pc, err := newPeerConnection(peerOptions{})
	if err != nil {
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "sfutest")
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	p := &VP8Publisher{PC: pc, track: track}
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
					p.keyWanted.Store(true)
				}
			}
		}
	}()
	if err := connect(ctx, pc, signal); err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("vp8 publisher: %w", err)
	}
	return p, nil
}

// SendFrames sends count frames at fps, a keyframe first, every keyEvery frames and after
// a PLI; picture IDs start at 32700 so they wrap at 15 bits early.
func (p *VP8Publisher) SendFrames(ctx context.Context, count uint32, keyEvery, fps int) error {
	seq := uint16(1000)
	var tl0 uint8
	tids := [4]uint8{0, 2, 1, 2}
	phase := 0
	return pace(ctx, count, fps, func(i uint32) error {
		key := p.keyWanted.Swap(false) || i == 0 || int(i)%keyEvery == 0
		if key {
			phase = 0 // a keyframe restarts the temporal pattern on TL0
		}
		tid := tids[phase%4]
		phase++
		if tid == 0 {
			tl0++
		}
		pid := uint16(32700+i) & 0x7fff
		size := vp8LayerSize[tid]
		for off := 0; off < size; off += 1000 {
			n := min(1000, size-off)
			b0 := byte(0x80) // X
			if off == 0 {
				b0 |= 0x10 // S, partition 0
			}
			tk := tid << 6
			if tid > 0 && phase <= 4 {
				tk |= 0x20 // Y: the first pictures of each layer after a keyframe sync
			}
			payload := []byte{b0, 0xe0, 0x80 | byte(pid>>8), byte(pid), tl0, tk}
			data := make([]byte, n)
			for j := range data {
				data[j] = byte(0x40 + (j+int(i))%64)
			}
			if off == 0 {
				data[0] = 0x01 // inter frame (P=1)
				if key {
					data[0], data[1], data[2], data[3] = 0x00, 0x9d, 0x01, 0x2a // P=0, start code
				}
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq,
				Timestamp: i * 90000 / uint32(fps), Marker: off+n >= size}, Payload: append(payload, data...)}
			seq++
			if err := p.track.WriteRTP(pkt); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close ends the session.
func (p *VP8Publisher) Close() error { return p.PC.Close() }

// VP8Picture is a picture a viewer received the first packet of.
type VP8Picture struct {
	ID  uint16
	TID uint8
	At  time.Time
}

// vp8Pictures records the pictures of a VP8 stream; used by Viewer for VP8 video.
type vp8Pictures struct {
	mu   sync.Mutex
	pics []VP8Picture
}

func (v *vp8Pictures) add(pkt *rtp.Packet) {
	d, _, err := simulcast.ParseVP8Descriptor(pkt.Payload)
	if err != nil || !d.Start || d.PartitionID != 0 || !d.HasPictureID {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if n := len(v.pics); n > 0 && v.pics[n-1].ID == d.PictureID {
		return // a retransmission of the last picture's first packet
	}
	v.pics = append(v.pics, VP8Picture{ID: d.PictureID, TID: d.TID, At: time.Now()})
}
