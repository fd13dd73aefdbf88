package transcode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// nalu is a NAL unit of n bytes with header byte h. Its body has no zero bytes: a real NAL
// unit never contains a start code (emulation prevention), and pion's payloader, the
// reference here, would split one.
func nalu(h byte, n int) []byte {
	b := make([]byte, n)
	b[0] = h
	for i := 1; i < n; i++ {
		b[i] = byte(i%251 + 1)
	}
	return b
}

// TestPassthroughPacketization: for NAL units around the packet size (a single packet up to
// maxRTPPayload, FU-A from one byte more, fragment boundaries at multiples of
// maxRTPPayload-2 after the header byte), passthrough's packets carry exactly the payloads
// pion's H264Payloader makes, the marker on each access unit's last packet only, and
// depacketize (pion's H264Packet) to the NAL units that went in, less delimiters.
func TestPassthroughPacketization(t *testing.T) {
	const frag = maxRTPPayload - fuaHeaderSize
	aud, sps, pps := []byte{0x09, 0xf0}, testSPS, testPPS
	for _, size := range []int{1, 2, 100, maxRTPPayload - 1, maxRTPPayload, maxRTPPayload + 1, maxRTPPayload + 2,
		2 * frag, 2*frag + 1, 2*frag + 2, 3*frag + 1, 20_000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			aus := [][][]byte{
				{aud, sps, pps, nalu(0x65, size)},                   // keyframe: STAP-A of SPS and PPS first
				{nalu(0x06, 40), nalu(0x41, size)},                  // SEI and a slice
				{nalu(0x41, size), nalu(0x01, size), nalu(0x0c, 9)}, // two slices and filler
				{sps, pps, nalu(0x65, size), nalu(0x65, size)},      // in-band parameter sets, two IDR slices
			}
			q := newQueueSource(4096, make(chan struct{}))
			p := newPassthrough(0x11223344, 102, q, nil, nil)
			var ref codecs.H264Payloader
			var depack codecs.H264Packet
			depack.IsAVC = true
			seq := p.seq
			for i, au := range aus {
				dts := time.Duration(i) * time.Second / 30
				p.write(dts, au)
				var want [][]byte
				for _, n := range au {
					want = append(want, ref.Payload(maxRTPPayload, n)...)
				}
				var gotNALUs []byte
				var wantNALUs []byte
				for _, n := range au {
					if typ := n[0] & 0x1f; typ != 9 && typ != 12 {
						wantNALUs = binary.BigEndian.AppendUint32(wantNALUs, uint32(len(n)))
						wantNALUs = append(wantNALUs, n...)
					}
				}
				if len(q.ch) != len(want) {
					t.Fatalf("access unit %d: %d packets, pion makes %d", i, len(q.ch), len(want))
				}
				for j := range want {
					pk := <-q.ch
					var r rtp.Packet
					if err := r.Unmarshal(pk.buf[:pk.n]); err != nil {
						t.Fatal(err)
					}
					packetPool.Put(pk)
					if r.Version != 2 || r.PayloadType != 102 || r.SSRC != 0x11223344 || r.SequenceNumber != seq ||
						r.Timestamp != p.tsBase+uint32(ticks90k(dts)) || r.Marker != (j == len(want)-1) || len(r.CSRC) != 0 || r.Extension {
						t.Fatalf("access unit %d packet %d: header %+v (want seq %d)", i, j, r.Header, seq)
					}
					seq++
					if len(r.Payload) > maxRTPPayload || !bytes.Equal(r.Payload, want[j]) {
						t.Fatalf("access unit %d packet %d: payload of %d bytes differs from pion's %d", i, j, len(r.Payload), len(want[j]))
					}
					out, err := depack.Unmarshal(r.Payload)
					if err != nil {
						t.Fatalf("access unit %d packet %d: depacketize: %v", i, j, err)
					}
					gotNALUs = append(gotNALUs, out...)
				}
				if !bytes.Equal(gotNALUs, wantNALUs) {
					t.Fatalf("access unit %d: depacketized %d bytes, want the %d that went in", i, len(gotNALUs), len(wantNALUs))
				}
			}
		})
	}
}

// raceEnabled is set by race_test.go: the race detector makes sync.Pool drop a share of what
// is put back, so a pooled path allocates under -race by design.
var raceEnabled bool

// TestPassthroughNoAllocs: packetizing an access unit allocates nothing once the pools are
// warm (STYLE: no allocation per packet); BenchmarkPassthrough shows the same with numbers.
func TestPassthroughNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race; run without -race (or BenchmarkPassthrough)")
	}
	q := newQueueSource(videoQueuePackets, make(chan struct{}))
	p := newPassthrough(1, 96, q, testSPS, testPPS)
	idr, slice := nalu(0x65, 20_000), nalu(0x41, 4_000)
	buf := make([]byte, 1500)
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		for _, au := range [][][]byte{{idr}, {slice}} {
			i++
			p.write(time.Duration(i)*time.Second/30, au)
			for len(q.ch) > 0 {
				q.Read(buf)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per keyframe and slice, want 0", allocs)
	}
}
