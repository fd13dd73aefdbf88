package llhls

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// gohlslib's rendering the moment a segment closes: segment 8 ends with a one-frame part
// and no part of segment 9 is out yet.
const justClosed = `#EXTM3U
#EXT-X-VERSION:10
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.60000
#EXT-X-PART-INF:PART-TARGET=0.20000
#EXT-X-MEDIA-SEQUENCE:7
#EXT-X-MAP:URI="p_video1_init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-12-06T02:56:47.643Z
#EXTINF:1.06667,
p_video1_seg7.mp4
#EXT-X-PROGRAM-DATE-TIME:2026-12-06T02:56:48.71Z
#EXT-X-PART:DURATION=0.20000,URI="p_video1_part6.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="p_video1_part7.mp4"
#EXT-X-PART:DURATION=0.20000,URI="p_video1_part8.mp4"
#EXT-X-PART:DURATION=0.20000,URI="p_video1_part9.mp4"
#EXT-X-PART:DURATION=0.20000,URI="p_video1_part10.mp4"
#EXT-X-PART:DURATION=0.03333,URI="p_video1_part11.mp4"
#EXTINF:1.03333,
p_video1_seg8.mp4
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p_video1_part12.mp4"
`

// TestClosedSegmentHeldOpenUntilNextPart: a segment gohlslib has just closed is published
// still open, its parts listed and its last part complete for blocking requests, but
// without its EXTINF until a part of the next segment is out (holdSegmentOpen: hls.js
// skips the last part of a segment that closes while its second-to-last part is loading).
func TestClosedSegmentHeldOpenUntilNextPart(t *testing.T) {
	v := &variant{cfg: DefaultConfig(), partTarget: 200 * time.Millisecond, pdt: map[string]time.Time{}, log: zap.NewNop()}
	snap, err := v.rewrite(videoPlaylist, []byte(justClosed), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := string(snap.body)
	if strings.Contains(body, "p_video1_seg8.mp4") {
		t.Errorf("segment 8 is listed closed before a part of segment 9 is out:\n%s", body)
	}
	if !strings.Contains(body, `URI="p_video1_part11.mp4"`) || !strings.Contains(body, `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p_video1_part12.mp4"`) {
		t.Errorf("segment 8's last part or the preload hint is missing:\n%s", body)
	}
	if snap.msn != 8 || snap.lastPart != 5 {
		t.Errorf("live edge: segment %d part %d; want 8 part 5", snap.msn, snap.lastPart)
	}
	if !snap.has(8, 5) || snap.has(8, 6) || snap.has(9, 0) {
		t.Errorf("blocking: has(8,5)=%v has(8,6)=%v has(9,0)=%v; want true false false", snap.has(8, 5), snap.has(8, 6), snap.has(9, 0))
	}

	// The next segment's first part closes segment 8.
	next := strings.Replace(justClosed, `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p_video1_part12.mp4"`,
		"#EXT-X-PART:DURATION=0.20000,URI=\"p_video1_part12.mp4\",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p_video1_part13.mp4\"", 1)
	snap, err = v.rewrite(videoPlaylist, []byte(next), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	body = string(snap.body)
	if !strings.Contains(body, "#EXTINF:1.03333,\np_video1_seg8.mp4\n") {
		t.Errorf("segment 8 is not closed once segment 9's first part is out:\n%s", body)
	}
	if snap.msn != 9 || snap.lastPart != 0 || !snap.has(8, 6) {
		t.Errorf("live edge: segment %d part %d (has(8,6)=%v); want 9 part 0 and true", snap.msn, snap.lastPart, snap.has(8, 6))
	}
}
