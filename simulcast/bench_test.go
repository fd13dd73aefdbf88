package simulcast

import "testing"

// BenchmarkMungerRewrite is the per-packet cost of the munger on the forwarding path: a
// steady in-order stream, and one with a late packet, a padding skip, a source switch and a
// NACK translation mixed in.
func BenchmarkMungerRewrite(b *testing.B) {
	b.Run("in-order", func(b *testing.B) {
		b.ReportAllocs()
		var m Munger
		seq, ts, now := uint16(1000), uint32(0), int64(0)
		var sink uint16
		for i := 0; b.Loop(); i++ {
			seq++
			now += 1e6
			if i%30 == 0 {
				ts += 3000
			}
			out, _, _ := m.Rewrite(seq, ts, now, 90000)
			sink += out
		}
		_ = sink
	})
	b.Run("mixed", func(b *testing.B) {
		b.ReportAllocs()
		var m Munger
		seq, ts, now := uint16(1000), uint32(0), int64(0)
		var sink uint16
		for i := 0; b.Loop(); i++ {
			seq++
			now += 1e6
			if i%30 == 0 {
				ts += 3000
			}
			switch i % 64 {
			case 20:
				m.Skip(seq)
				continue
			case 40:
				m.Switch()
			}
			out, _, _ := m.Rewrite(seq, ts, now, 90000)
			if i%16 == 0 {
				m.Rewrite(seq-1, ts, now, 90000) // late
				in, _ := m.InputSeq(out - 2)
				sink += in
			}
			sink += out
		}
		_ = sink
	})
}

// TestNoAllocs keeps the benchmarks' 0 allocs/op from regressing unnoticed in a plain test run.
func TestNoAllocs(t *testing.T) {
	var m Munger
	seq := uint16(0)
	if n := testing.AllocsPerRun(1000, func() {
		seq++
		m.Rewrite(seq, uint32(seq)*3000, int64(seq)*1e6, 90000)
		m.Skip(seq + 1)
		seq++
		m.InputSeq(seq - 3)
		if seq%100 == 0 {
			m.Switch()
		}
	}); n != 0 {
		t.Errorf("Munger: %v allocs per packet", n)
	}
	idr := stapA(h264SPS, h264PPS)
	key := vp8([]byte{0x90, 0xf0, 0x80, 0x01, 0x03, 0x20}, vp8Key)
	if n := testing.AllocsPerRun(1000, func() {
		IsKeyframeStart(CodecH264, idr)
		IsKeyframeStart(CodecVP8, key)
	}); n != 0 {
		t.Errorf("IsKeyframeStart: %v allocs per packet", n)
	}
}

func BenchmarkIsKeyframeStartH264(b *testing.B) {
	payloads := [][]byte{
		stapA(h264SEI, h264PPS, h264SPS),
		{0x7c, 0x85, 0x88, 0x84, 0x00},
		{0x7c, 0x05, 0x12, 0x34},
		h264NonIDR,
		h264IDR,
	}
	b.ReportAllocs()
	n := 0
	for i := 0; b.Loop(); i++ {
		if IsKeyframeStart(CodecH264, payloads[i%len(payloads)]) {
			n++
		}
	}
	if n == 0 {
		b.Fatal("no keyframe starts seen")
	}
}

func BenchmarkIsKeyframeStartVP8(b *testing.B) {
	payloads := [][]byte{
		vp8([]byte{0x90, 0xf0, 0x80, 0x01, 0x03, 0x20}, vp8Key),
		vp8([]byte{0x90, 0x80, 0x81, 0x23}, vp8Inter),
		vp8([]byte{0x00}, vp8Inter),
	}
	b.ReportAllocs()
	n := 0
	for i := 0; b.Loop(); i++ {
		if IsKeyframeStart(CodecVP8, payloads[i%len(payloads)]) {
			n++
		}
	}
	if n == 0 {
		b.Fatal("no keyframe starts seen")
	}
}
