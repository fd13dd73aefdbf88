package transcode

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// BenchmarkOutputPath is what each RTP packet from ffmpeg costs between the socket and the
// SFU's Receiver: the munger's rewrite, the queue hand-off and Source.Read's copy. It must
// allocate nothing (STYLE: no allocation per packet).
func BenchmarkOutputPath(b *testing.B) {
	done := make(chan struct{})
	q := newQueueSource(videoQueuePackets, done)
	var m munger
	buf := make([]byte, 1500)
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := packetPool.Get().(*packet)
		p.buf[0] = 0x80
		seq, ts := m.rewrite(1234, uint16(i), uint32(i/8)*3000, now, 90000)
		binary.BigEndian.PutUint16(p.buf[2:], seq)
		binary.BigEndian.PutUint32(p.buf[4:], ts)
		p.n = 1200
		q.push(p)
		if _, _, err := q.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInputMux is what one host access unit costs the RTMP reader: SPS/PPS
// bookkeeping, MPEG-TS muxing and the queue hand-off (the feeder drains the queue).
func BenchmarkInputMux(b *testing.B) {
	in := newInput(true, false, mpeg4audio.AudioSpecificConfig{}, []byte{0x67, 0x42, 0xc0, 0x1e}, []byte{0x68, 0xce}, 256, 32<<20)
	if _, _, err := in.restart(1, false, false); err != nil {
		b.Fatal(err)
	}
	idr := make([]byte, 20_000)
	idr[0] = 0x65
	slice := make([]byte, 4_000)
	slice[0] = 0x41
	b.ReportAllocs()
	b.SetBytes(int64(len(slice)))
	for i := 0; b.Loop(); i++ {
		au := [][]byte{slice}
		if i%30 == 0 {
			au = [][]byte{idr}
		}
		d := time.Duration(i) * time.Second / 30
		if err := in.writeH264(d, d, au); err != nil {
			b.Fatal(err)
		}
		in.release(<-in.queue)
	}
}

// BenchmarkPassthrough is what one host access unit costs on the passthrough path: SPS/PPS
// bookkeeping, packetization into pooled RTP packets and the queue hand-off, then the SFU's
// Source.Read of each packet. A 4,000-byte slice is four FU-A packets; every 30th access unit
// is an IDR that gets SPS and PPS in a STAP-A in front. It must allocate nothing (STYLE: no
// allocation per packet).
func BenchmarkPassthrough(b *testing.B) {
	done := make(chan struct{})
	q := newQueueSource(videoQueuePackets, done)
	p := newPassthrough(1234, 96, q, testSPS, testPPS)
	idr := make([]byte, 20_000)
	idr[0] = 0x65
	slice := make([]byte, 4_000)
	slice[0] = 0x41
	buf := make([]byte, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(slice)))
	for i := 0; b.Loop(); i++ {
		au := [][]byte{slice}
		if i%30 == 0 {
			au = [][]byte{idr}
		}
		p.write(time.Duration(i)*time.Second/30, au)
		for len(q.ch) > 0 {
			if _, _, err := q.Read(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}
