package simulcast

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pion/rtp/codecs"
)

// vp8Hdr describes a payload descriptor to build; a negative field is absent.
type vp8Hdr struct {
	start  bool
	pid    int  // picture ID
	short  bool // 7-bit picture ID (M=0)
	tl0    int  // TL0PICIDX
	tid    int  // TID (with Y=1 when tid > 0)
	keyIdx int  // KEYIDX
}

// noExt is a descriptor with no extension: X=0.
var noExt = vp8Hdr{pid: -1, tl0: -1, tid: -1, keyIdx: -1}

// buildVP8 builds a payload: the descriptor h (RFC 7741 §4.2) in front of frame.
func buildVP8(h vp8Hdr, frame []byte) []byte {
	b0, x := byte(0), byte(0)
	var ext []byte
	if h.start {
		b0 |= 0x10
	}
	if h.pid >= 0 {
		x |= 0x80
		if h.short {
			ext = append(ext, byte(h.pid&0x7f))
		} else {
			ext = append(ext, 0x80|byte(h.pid>>8&0x7f), byte(h.pid))
		}
	}
	if h.tl0 >= 0 {
		x |= 0x40
		ext = append(ext, byte(h.tl0))
	}
	if h.tid >= 0 || h.keyIdx >= 0 {
		var tk byte
		if h.tid >= 0 {
			x |= 0x20
			tk |= byte(h.tid&3) << 6
			if h.tid > 0 {
				tk |= 0x20
			}
		}
		if h.keyIdx >= 0 {
			x |= 0x10
			tk |= byte(h.keyIdx & 0x1f)
		}
		ext = append(ext, tk)
	}
	p := []byte{b0}
	if x != 0 {
		p = append(p, x)
		p[0] |= 0x80
	}
	return append(append(p, ext...), frame...)
}

// want is what a rewritten packet must carry; a negative field must be absent.
type vp8Want struct{ pid, tl0, keyIdx int }

// checkVP8Rewrite parses in and out with pion's depacketizer and checks that out carries
// want, the 15-bit picture ID form, and everything else of in unchanged.
func checkVP8Rewrite(t *testing.T, in, out []byte, want vp8Want) {
	t.Helper()
	var pi, po codecs.VP8Packet
	fi, err := pi.Unmarshal(in)
	if err != nil {
		t.Fatalf("input % x: %v", in, err)
	}
	fo, err := po.Unmarshal(out)
	if err != nil {
		t.Fatalf("output % x (input % x): %v", out, in, err)
	}
	if !bytes.Equal(fi, fo) {
		t.Fatalf("VP8 data changed: % x -> % x", fi, fo)
	}
	if pi.X != po.X || pi.N != po.N || pi.S != po.S || pi.PID != po.PID || pi.I != po.I ||
		pi.L != po.L || pi.T != po.T || pi.K != po.K || pi.TID != po.TID || pi.Y != po.Y {
		t.Fatalf("flags changed: % x -> % x", in, out)
	}
	if (want.pid >= 0) != (po.I == 1) || (want.tl0 >= 0) != (po.L == 1) || (want.keyIdx >= 0) != (po.K == 1) {
		t.Fatalf("output % x: fields present I=%d L=%d K=%d, want %+v", out, po.I, po.L, po.K, want)
	}
	if po.I == 1 {
		if out[2]&0x80 == 0 {
			t.Fatalf("output % x: 7-bit picture ID, want 15-bit", out)
		}
		if int(po.PictureID) != want.pid {
			t.Fatalf("output % x: picture ID %d, want %d", out, po.PictureID, want.pid)
		}
	}
	if po.L == 1 && int(po.TL0PICIDX) != want.tl0 {
		t.Fatalf("output % x: TL0PICIDX %d, want %d", out, po.TL0PICIDX, want.tl0)
	}
	if po.K == 1 && int(po.KEYIDX) != want.keyIdx {
		t.Fatalf("output % x: KEYIDX %d, want %d", out, po.KEYIDX, want.keyIdx)
	}
	if grow := len(out) - len(in); grow != 0 && !(grow == 1 && in[2]&0x80 == 0) {
		t.Fatalf("output %d bytes for input %d", len(out), len(in))
	}
}

func TestParseVP8Descriptor(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    VP8Descriptor
		hdr     int
		err     error
	}{
		{"no extension, start", vp8([]byte{0x10}, vp8Key), VP8Descriptor{Start: true}, 1, nil},
		{"no extension, N, partition 3", vp8([]byte{0x23}, vp8Inter), VP8Descriptor{NonReference: true, PartitionID: 3}, 1, nil},
		{"X with nothing set", vp8([]byte{0x90, 0x00}, vp8Key), VP8Descriptor{Start: true}, 2, nil},
		{"7-bit picture ID", vp8([]byte{0x90, 0x80, 0x7f}, vp8Key),
			VP8Descriptor{Start: true, HasPictureID: true, PictureID: 127}, 3, nil},
		{"15-bit picture ID", vp8([]byte{0x90, 0x80, 0xff, 0xfe}, vp8Key),
			VP8Descriptor{Start: true, HasPictureID: true, PictureID15: true, PictureID: 0x7ffe}, 4, nil},
		{"15-bit picture ID, TL0PICIDX, TID/Y, KEYIDX", vp8([]byte{0x90, 0xf0, 0x80, 0x01, 0x03, 0x65}, vp8Key),
			VP8Descriptor{Start: true, HasPictureID: true, PictureID15: true, PictureID: 1,
				HasTL0PICIDX: true, TL0PICIDX: 3, HasTID: true, TID: 1, LayerSync: true, HasKeyIdx: true, KeyIdx: 5}, 6, nil},
		{"TL0PICIDX only", vp8([]byte{0x80, 0x40, 0xfe}, vp8Inter), VP8Descriptor{HasTL0PICIDX: true, TL0PICIDX: 0xfe}, 3, nil},
		{"TID without KEYIDX", vp8([]byte{0x80, 0x20, 0xdf}, vp8Inter), VP8Descriptor{HasTID: true, TID: 3}, 3, nil},
		{"KEYIDX without TID", vp8([]byte{0x80, 0x10, 0xff}, vp8Inter), VP8Descriptor{HasKeyIdx: true, KeyIdx: 31}, 3, nil},

		{"empty", nil, VP8Descriptor{}, 0, ErrVP8Truncated},
		{"X but no extension byte", []byte{0x90}, VP8Descriptor{}, 0, ErrVP8Truncated},
		{"I but no picture ID", []byte{0x90, 0x80}, VP8Descriptor{}, 0, ErrVP8Truncated},
		{"M but half a picture ID", []byte{0x90, 0x80, 0x81}, VP8Descriptor{}, 0, ErrVP8Truncated},
		{"L but no TL0PICIDX", []byte{0x90, 0xc0, 0x01}, VP8Descriptor{}, 0, ErrVP8Truncated},
		{"T/K but no TID/KEYIDX byte", []byte{0x90, 0xf0, 0x80, 0x01, 0x03}, VP8Descriptor{}, 0, ErrVP8Truncated},
		{"descriptor without data", []byte{0x90, 0x80, 0x81, 0x02}, VP8Descriptor{}, 4, ErrVP8NoData},
		{"first byte without data", []byte{0x10}, VP8Descriptor{}, 1, ErrVP8NoData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, hdr, err := ParseVP8Descriptor(tt.payload)
			if !errors.Is(err, tt.err) || hdr != tt.hdr {
				t.Fatalf("ParseVP8Descriptor(% x) = (_, %d, %v), want (_, %d, %v)", tt.payload, hdr, err, tt.hdr, tt.err)
			}
			if err == nil && d != tt.want {
				t.Fatalf("ParseVP8Descriptor(% x) = %+v, want %+v", tt.payload, d, tt.want)
			}
		})
	}
}

// TestVP8MungerFirstPacket: the first packet keeps its values, in the 15-bit form, whatever
// combination of fields it carries.
func TestVP8MungerFirstPacket(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"no extension", vp8([]byte{0x10}, vp8Key), vp8([]byte{0x10}, vp8Key)},
		{"X with nothing set, reserved bits kept", vp8([]byte{0x90, 0x0f}, vp8Key), vp8([]byte{0x90, 0x0f}, vp8Key)},
		{"7-bit picture ID widened", vp8([]byte{0x90, 0x80, 0x65}, vp8Key), vp8([]byte{0x90, 0x80, 0x80, 0x65}, vp8Key)},
		{"15-bit picture ID", vp8([]byte{0x90, 0x80, 0xab, 0xcd}, vp8Key), vp8([]byte{0x90, 0x80, 0xab, 0xcd}, vp8Key)},
		{"7-bit picture ID, TL0PICIDX", vp8([]byte{0x90, 0xc0, 0x05, 0x09}, vp8Key), vp8([]byte{0x90, 0xc0, 0x80, 0x05, 0x09}, vp8Key)},
		{"all fields, R and N bits", vp8([]byte{0xf2, 0xf0, 0x92, 0x34, 0x56, 0x7f}, vp8Inter), vp8([]byte{0xf2, 0xf0, 0x92, 0x34, 0x56, 0x7f}, vp8Inter)},
		{"TID only", vp8([]byte{0x80, 0x20, 0x5f}, vp8Inter), vp8([]byte{0x80, 0x20, 0x5f}, vp8Inter)},
		{"KEYIDX only", vp8([]byte{0x80, 0x10, 0xe3}, vp8Inter), vp8([]byte{0x80, 0x10, 0xe3}, vp8Inter)},
		{"TL0PICIDX and KEYIDX", vp8([]byte{0x80, 0x50, 0x00, 0x1f}, vp8Inter), vp8([]byte{0x80, 0x50, 0x00, 0x1f}, vp8Inter)},
		{"one byte of data", []byte{0x90, 0x80, 0x01, 0xaa}, []byte{0x90, 0x80, 0x80, 0x01, 0xaa}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m VP8Munger
			dst := make([]byte, len(tt.in)+1)
			out, ok := m.Rewrite(dst, tt.in)
			if !ok || !bytes.Equal(out, tt.want) {
				t.Fatalf("Rewrite(% x) = (% x, %v), want (% x, true)", tt.in, out, ok, tt.want)
			}
			var p codecs.VP8Packet
			if _, err := p.Unmarshal(tt.in); err != nil {
				t.Fatal(err)
			}
			w := vp8Want{pid: -1, tl0: -1, keyIdx: -1}
			if p.I == 1 {
				w.pid = int(p.PictureID)
			}
			if p.L == 1 {
				w.tl0 = int(p.TL0PICIDX)
			}
			if p.K == 1 {
				w.keyIdx = int(p.KEYIDX)
			}
			checkVP8Rewrite(t, tt.in, out, w)
		})
	}
}

// vp8Step is one call on a VP8Munger: a switch, or a packet and what it must become.
type vp8Step struct {
	switchSource bool
	in           vp8Hdr
	want         vp8Want
}

func vp8Pkt(in vp8Hdr, pid, tl0, keyIdx int) vp8Step {
	return vp8Step{in: in, want: vp8Want{pid, tl0, keyIdx}}
}

var vp8Switch = vp8Step{switchSource: true}

// hdr is a start-of-picture descriptor with a 15-bit picture ID, TL0PICIDX, TID and KEYIDX.
func hdr(pid, tl0, tid, keyIdx int) vp8Hdr {
	return vp8Hdr{start: true, pid: pid, tl0: tl0, tid: tid, keyIdx: keyIdx}
}

func cont(h vp8Hdr) vp8Hdr { h.start = false; return h }

func short(h vp8Hdr) vp8Hdr { h.short = true; return h }

func runVP8(t *testing.T, m *VP8Munger, steps []vp8Step) {
	t.Helper()
	dst := make([]byte, 1500)
	for i, s := range steps {
		if s.switchSource {
			m.Switch()
			continue
		}
		frame := vp8Inter
		if s.in.start {
			frame = vp8Key
		}
		in := buildVP8(s.in, frame)
		out, ok := m.Rewrite(dst, in)
		if !ok {
			t.Fatalf("step %d: Rewrite(% x) dropped", i, in)
		}
		t.Logf("step %d: % x -> % x", i, in[:len(in)-len(frame)], out[:len(out)-len(frame)])
		checkVP8Rewrite(t, in, out, s.want)
	}
}

func TestVP8MungerSequences(t *testing.T) {
	tests := []struct {
		name  string
		steps []vp8Step
	}{
		{"one source keeps its values", []vp8Step{
			vp8Pkt(hdr(100, 7, 0, 3), 100, 7, 3),
			vp8Pkt(cont(hdr(100, 7, 0, 3)), 100, 7, 3),
			vp8Pkt(hdr(101, 7, 2, 3), 101, 7, 3),
			vp8Pkt(hdr(102, 7, 1, 3), 102, 7, 3),
			vp8Pkt(hdr(103, 8, 0, 3), 103, 8, 3),
		}},
		{"switch continues every field", []vp8Step{
			vp8Pkt(hdr(100, 7, 0, 3), 100, 7, 3),
			vp8Pkt(hdr(101, 7, 1, 3), 101, 7, 3),
			vp8Switch,
			vp8Pkt(hdr(20000, 200, 0, 17), 102, 8, 4),
			vp8Pkt(cont(hdr(20000, 200, 0, 17)), 102, 8, 4),
			vp8Pkt(hdr(20001, 200, 1, 17), 103, 8, 4),
			vp8Pkt(hdr(20002, 201, 0, 18), 104, 9, 5),
			vp8Switch,
			vp8Pkt(hdr(130, 9, 0, 4), 105, 10, 6),
			vp8Pkt(hdr(131, 9, 1, 4), 106, 10, 6),
		}},
		{"gaps within a source are kept", []vp8Step{
			vp8Pkt(hdr(5, 1, 0, 0), 5, 1, 0),
			vp8Pkt(hdr(9, 3, 0, 2), 9, 3, 2), // pictures lost upstream
			vp8Switch,
			vp8Pkt(hdr(700, 50, 0, 9), 10, 4, 3),
			vp8Pkt(hdr(703, 52, 0, 9), 13, 6, 3),
		}},
		{"late and retransmitted packets keep their picture's values", []vp8Step{
			vp8Pkt(hdr(1000, 10, 0, 1), 1000, 10, 1),
			vp8Switch,
			vp8Pkt(hdr(50, 90, 0, 20), 1001, 11, 2),
			vp8Pkt(hdr(51, 90, 1, 20), 1002, 11, 2),
			vp8Pkt(hdr(52, 91, 0, 20), 1003, 12, 2),
			vp8Pkt(cont(hdr(51, 90, 1, 20)), 1002, 11, 2), // late
			vp8Pkt(hdr(50, 90, 0, 20), 1001, 11, 2),       // retransmitted
			vp8Pkt(hdr(53, 91, 1, 20), 1004, 12, 2),
			vp8Switch,
			vp8Pkt(hdr(9, 0, 0, 0), 1005, 13, 3), // continues after the newest, not the last seen
		}},
		{"picture ID wraps at 32767 within a source", []vp8Step{
			vp8Pkt(hdr(32766, -1, -1, -1), 32766, -1, -1),
			vp8Pkt(hdr(32767, -1, -1, -1), 32767, -1, -1),
			vp8Pkt(hdr(0, -1, -1, -1), 0, -1, -1),
			vp8Pkt(hdr(32767, -1, -1, -1), 32767, -1, -1), // late, from before the wrap
			vp8Switch,
			vp8Pkt(hdr(400, -1, -1, -1), 1, -1, -1),
		}},
		{"switch at 32767 wraps to 0; TL0PICIDX and KEYIDX wrap", []vp8Step{
			vp8Pkt(hdr(32767, 255, 0, 31), 32767, 255, 31),
			vp8Switch,
			vp8Pkt(hdr(12, 3, 0, 3), 0, 0, 0),
			vp8Pkt(hdr(13, 4, 0, 4), 1, 1, 1),
			vp8Switch,
			vp8Pkt(hdr(32767, 255, 0, 31), 2, 2, 2),
			vp8Pkt(hdr(0, 0, 0, 0), 3, 3, 3),
		}},
		{"7-bit picture IDs are unwrapped", []vp8Step{
			vp8Pkt(short(hdr(126, -1, -1, -1)), 126, -1, -1),
			vp8Pkt(short(hdr(127, -1, -1, -1)), 127, -1, -1),
			vp8Pkt(short(hdr(0, -1, -1, -1)), 128, -1, -1),
			vp8Pkt(short(hdr(127, -1, -1, -1)), 127, -1, -1), // late
			vp8Pkt(short(hdr(1, -1, -1, -1)), 129, -1, -1),
			vp8Pkt(short(hdr(60, -1, -1, -1)), 188, -1, -1), // 59 lost
			vp8Switch,
			vp8Pkt(hdr(5000, -1, -1, -1), 189, -1, -1),
			vp8Switch,
			vp8Pkt(short(hdr(100, -1, -1, -1)), 190, -1, -1),
			vp8Pkt(short(hdr(127, -1, -1, -1)), 217, -1, -1),
			vp8Pkt(short(hdr(3, -1, -1, -1)), 221, -1, -1),
		}},
		{"7-bit picture IDs near the 15-bit wrap", []vp8Step{
			vp8Pkt(hdr(32766, -1, -1, -1), 32766, -1, -1),
			vp8Switch,
			vp8Pkt(short(hdr(127, -1, -1, -1)), 32767, -1, -1),
			vp8Pkt(short(hdr(0, -1, -1, -1)), 0, -1, -1),
			vp8Pkt(short(hdr(1, -1, -1, -1)), 1, -1, -1),
		}},
		{"a field first seen after a switch keeps its value", []vp8Step{
			vp8Pkt(hdr(10, -1, -1, -1), 10, -1, -1),
			vp8Switch,
			vp8Pkt(hdr(500, 77, 0, 12), 11, 77, 12),
			vp8Switch,
			vp8Pkt(hdr(900, 3, 0, 30), 12, 78, 13),
		}},
		{"a source without a field leaves it for the next", []vp8Step{
			vp8Pkt(hdr(10, 40, 0, 6), 10, 40, 6),
			vp8Switch,
			vp8Pkt(hdr(300, -1, -1, -1), 11, -1, -1),
			vp8Pkt(hdr(301, -1, -1, -1), 12, -1, -1),
			vp8Switch,
			vp8Pkt(hdr(2, 200, 0, 1), 13, 41, 7),
		}},
		{"fields join on the first packet carrying them", []vp8Step{
			vp8Pkt(hdr(10, 40, 0, 6), 10, 40, 6),
			vp8Switch,
			vp8Pkt(noExt, -1, -1, -1),
			vp8Pkt(vp8Hdr{start: true, pid: 70, tl0: -1, tid: -1, keyIdx: -1}, 11, -1, -1),
			vp8Pkt(hdr(71, 9, 0, 0), 12, 41, 7),
		}},
		{"switch with no packet in between", []vp8Step{
			vp8Pkt(hdr(10, 40, 0, 6), 10, 40, 6),
			vp8Switch,
			vp8Switch,
			vp8Pkt(hdr(1234, 99, 0, 19), 11, 41, 7),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m VP8Munger
			runVP8(t, &m, tt.steps)
		})
	}
}

// payloaderFrames packetizes frames with pion's VP8Payloader, as a publisher's encoder
// would, after skipping the first picture IDs.
func payloaderFrames(t *testing.T, skip, frames int, frame []byte, mtu uint16) [][][]byte {
	t.Helper()
	p := &codecs.VP8Payloader{EnablePictureID: true}
	for range skip {
		p.Payload(mtu, frame)
	}
	var out [][][]byte
	for range frames {
		pkts := p.Payload(mtu, frame)
		if len(pkts) < 2 {
			t.Fatalf("frame of %d bytes in %d packet(s) at MTU %d, want fragments", len(frame), len(pkts), mtu)
		}
		out = append(out, pkts)
	}
	return out
}

// TestVP8MungerPayloader switches between two pion-packetized sources with unrelated picture
// IDs, one of them about to wrap, and checks the output with pion's depacketizer.
func TestVP8MungerPayloader(t *testing.T) {
	frame := bytes.Repeat(vp8Key, 8)
	a := payloaderFrames(t, 0, 6, frame, 40)
	b := payloaderFrames(t, 32764, 6, frame, 40) // picture IDs 32764, 32765, 32766, 32767, 0, 1
	var m VP8Munger
	dst := make([]byte, 1500)
	next := 0
	send := func(pkts [][]byte) {
		t.Helper()
		for _, in := range pkts {
			out, ok := m.Rewrite(dst, in)
			if !ok {
				t.Fatalf("Rewrite(% x) dropped", in)
			}
			checkVP8Rewrite(t, in, out, vp8Want{pid: next, tl0: -1, keyIdx: -1})
			if len(out) != len(in) {
				t.Fatalf("15-bit input rewritten to %d bytes from %d", len(out), len(in))
			}
		}
		next = (next + 1) & pictureIDMask
	}
	send(a[0])
	send(a[1])
	m.Switch()
	send(b[0])
	send(b[1])
	send(b[2])
	m.Switch()
	send(a[4])
	m.Switch()
	send(b[3])
	send(b[4]) // the input wraps
	send(b[5])
	// A retransmission of a packet of b[3], two pictures back, keeps its picture ID.
	out, ok := m.Rewrite(dst, b[3][1])
	if !ok {
		t.Fatal("retransmission dropped")
	}
	checkVP8Rewrite(t, b[3][1], out, vp8Want{pid: next - 3, tl0: -1, keyIdx: -1})
}

func TestVP8MungerMalformed(t *testing.T) {
	bad := [][]byte{
		nil,
		{},
		{0x90},
		{0x90, 0x80},
		{0x90, 0x80, 0x81},
		{0x90, 0xc0, 0x01},
		{0x90, 0xd0, 0x81, 0x01, 0x02},
		{0x80, 0x10},
		{0x10},
		{0x90, 0x80, 0x81, 0x02},
	}
	var m VP8Munger
	runVP8(t, &m, []vp8Step{vp8Pkt(hdr(10, 40, 0, 6), 10, 40, 6)})
	m.Switch()
	dst := make([]byte, 16)
	for _, p := range bad {
		if out, ok := m.Rewrite(dst, p); ok || out != nil {
			t.Fatalf("Rewrite(% x) = (% x, %v), want (nil, false)", p, out, ok)
		}
	}
	// dst too small: one byte short of the widened 7-bit form.
	in := buildVP8(short(hdr(3, 1, 0, 1)), vp8Key)
	if out, ok := m.Rewrite(make([]byte, len(in)), in); ok || out != nil {
		t.Fatalf("Rewrite into %d bytes = (% x, %v), want (nil, false)", len(in), out, ok)
	}
	// None of them joined the new source.
	runVP8(t, &m, []vp8Step{vp8Pkt(hdr(500, 1, 0, 1), 11, 41, 7)})
}

// TestVP8MungerInPlace: dst may share payload's first byte, with one byte spare.
func TestVP8MungerInPlace(t *testing.T) {
	for _, h := range []vp8Hdr{short(hdr(5, 6, 1, 7)), hdr(5, 6, 1, 7), noExt} {
		in := buildVP8(h, vp8Key)
		var m1, m2 VP8Munger
		m1.Rewrite(make([]byte, 64), buildVP8(hdr(100, 1, 0, 1), vp8Key))
		m2.Rewrite(make([]byte, 64), buildVP8(hdr(100, 1, 0, 1), vp8Key))
		m1.Switch()
		m2.Switch()
		want, _ := m1.Rewrite(make([]byte, 64), in)
		buf := make([]byte, len(in), len(in)+1)
		copy(buf, in)
		got, ok := m2.Rewrite(buf, buf)
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("in place: % x, want % x", got, want)
		}
	}
}

func TestVP8MungerNoAllocs(t *testing.T) {
	pkts := [][]byte{
		buildVP8(hdr(1, 1, 0, 1), vp8Key),
		buildVP8(short(hdr(2, 1, 1, 1)), vp8Inter),
		buildVP8(noExt, vp8Inter),
		{0x90, 0x80},
	}
	var m VP8Munger
	dst := make([]byte, 64)
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		m.Rewrite(dst, pkts[i%len(pkts)])
		if i%7 == 0 {
			m.Switch()
		}
		i++
	}); n != 0 {
		t.Errorf("VP8Munger: %v allocs per packet", n)
	}
}

// BenchmarkVP8MungerRewrite is the per-packet cost on the forwarding path: full-MTU
// packets from pion's payloader (15-bit picture IDs, rewritten in place in the copy), and
// 7-bit ones that grow by a byte, with a switch every 64 packets.
func BenchmarkVP8MungerRewrite(b *testing.B) {
	frame := bytes.Repeat(vp8Key, 300)
	p := &codecs.VP8Payloader{EnablePictureID: true}
	var pkts [][]byte
	for range 4 {
		pkts = append(pkts, p.Payload(1200, frame)...)
	}
	for _, tt := range []struct {
		name string
		pkts [][]byte
	}{
		{"15-bit", pkts},
		{"7-bit+L+T+K", [][]byte{
			buildVP8(short(hdr(1, 1, 0, 1)), frame[:1100]),
			buildVP8(short(hdr(2, 1, 2, 1)), frame[:1100]),
			buildVP8(short(hdr(3, 1, 1, 1)), frame[:1100]),
		}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			var m VP8Munger
			dst := make([]byte, 1500)
			n := 0
			for i := 0; b.Loop(); i++ {
				if i%64 == 0 {
					m.Switch()
				}
				out, _ := m.Rewrite(dst, tt.pkts[i%len(tt.pkts)])
				n += len(out)
			}
			if n == 0 {
				b.Fatal("nothing rewritten")
			}
		})
	}
}
