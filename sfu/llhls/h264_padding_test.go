package llhls

import (
	"testing"

	"github.com/pion/rtp"
)

// TestAUAssemblerPaddingProbe: a padding-only packet between frames (Chromium's bandwidth
// probes, every 5 s, on the video SSRC with a timestamp of their own) is no frame: the frames
// around it come out whole and nothing waits for a keyframe. Before the fix the probe was
// taken for the start of a frame, the next packet for a frame whose marker was lost, and
// every frame until the next keyframe was dropped (found by webclient/e2e/hls_latency.mjs: a
// hole of up to a second in the LL-HLS video every 5 s, a 1.4 s stall in hls.js).
func TestAUAssemblerPaddingProbe(t *testing.T) {
	a := newAUAssembler()
	seq := uint16(100)
	frame := func(ts uint32, nalu ...byte) *rtp.Packet {
		seq++
		return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: true}, Payload: nalu}
	}
	probe := func(ts uint32) *rtp.Packet {
		seq++
		return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Padding: true, PaddingSize: 255}}
	}
	steps := []struct {
		name string
		pkt  *rtp.Packet
		want bool // an access unit comes out
	}{
		{"keyframe", frame(3000, 0x65, 1, 2), true},
		{"P frame", frame(6000, 0x41, 3), true},
		{"probe with the last frame's timestamp", probe(6000), false},
		{"P frame after it", frame(9000, 0x41, 4), true},
		{"probe with a timestamp of its own", probe(10500), false},
		{"another probe", probe(10500), false},
		{"P frame after them", frame(12000, 0x41, 5), true},
	}
	for _, s := range steps {
		au, _, err := a.push(s.pkt, s.pkt.Payload != nil && s.pkt.Payload[0]&0x1f == 5)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := au != nil; got != s.want {
			t.Fatalf("%s: access unit out = %v, want %v (dropped so far: %d)", s.name, got, s.want, a.dropped)
		}
	}
	if a.dropped != 0 || a.needIDR {
		t.Fatalf("dropped %d frames, waiting for a keyframe: %v; want none dropped", a.dropped, a.needIDR)
	}
}
