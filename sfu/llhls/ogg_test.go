package llhls

import (
	"bytes"
	"os/exec"
	"testing"
)

// TestOpusSamples: packet durations from the TOC byte (RFC 6716 3.1), and refusals.
func TestOpusSamples(t *testing.T) {
	for _, tc := range []struct {
		packet []byte
		want   int
	}{
		{[]byte{0xf8, 0xff, 0xfe}, 960},   // CELT 20 ms, one frame
		{[]byte{0x08 | 1, 0, 0}, 2 * 960}, // SILK 20 ms, two frames
		{[]byte{0x18 | 3, 2}, 2 * 2880},   // SILK 60 ms, two frames (code 3): 120 ms
		{[]byte{0x18 | 3, 3}, 0},          // three: 180 ms, over 120
		{[]byte{0x80 | 3, 48}, 48 * 120},  // CELT 2.5 ms, 48 frames: 120 ms
		{[]byte{0x80 | 3, 49}, 0},         // 122.5 ms: more than a packet may hold
		{[]byte{0x80 | 3}, 0},             // code 3 without its count
		{nil, 0},                          // empty
		{[]byte{0x60}, 480},               // hybrid 10 ms
		{[]byte{0x68}, 960},               // hybrid 20 ms
	} {
		got, err := opusSamples(tc.packet)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("opusSamples(%x) = %d, want an error", tc.packet, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("opusSamples(%x) = %d, %v; want %d", tc.packet, got, err, tc.want)
		}
	}
}

// TestOggPagesReadByFFmpeg: ffmpeg reads the Ogg Opus the audio transcoder writes (its CRCs,
// headers and granule positions), and takes a gap in the granules as a gap in time.
func TestOggPagesReadByFFmpeg(t *testing.T) {
	ffmpeg := requireFFmpeg(t)
	ogg := oggOpusHeaders()
	seq := uint32(2)
	granule := int64(0)
	for i := range 100 {
		if i == 50 {
			granule += 48000 // a second with no packets
		}
		granule += 960
		ogg = appendOggPage(ogg, 0, granule, seq, opusSilence)
		seq++
	}
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "ogg", "-i", "pipe:0",
		"-af", "aresample=async=1:min_hard_comp=0.02", "-f", "s16le", "-ac", "1", "-ar", "48000", "pipe:1")
	cmd.Stdin = bytes.NewReader(ogg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg: %v: %s", err, stderr.String())
	}
	// 100 packets of 20 ms and a second of gap filled: 3 s of samples, 2 bytes each.
	if got, want := len(out)/2, 3*48000; got < want-960 || got > want+960 {
		t.Fatalf("ffmpeg decoded %d samples, want ~%d (2 s of packets and the 1 s gap)", got, want)
	}
}
