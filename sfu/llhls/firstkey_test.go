package llhls

import (
	"testing"
)

// TestStartsWhenTheFirstKeyframeCameEarly: a browser's first keyframe can reach the origin
// before its first sender report, so it cannot be put on the media clock and is dropped;
// and a browser's H.264 encoder sends no other keyframe unless asked. The stream must ask
// for one once the clock is there. Before the fix it waited for a keyframe nobody asked
// for: a WHIP room whose LL-HLS was first requested in its first second never started
// (TestBrowserLLHLS: 503 "stream is starting" for 12 s).
func TestStartsWhenTheFirstKeyframeCameEarly(t *testing.T) {
	s := testSFU(t)
	to := startOrigin(t, s, DefaultConfig(), nil, nil)
	// The stream starts while the host is on stage but before its first frame: it sees
	// the first keyframe, a second before the first sender report.
	host := startHost(t, s, "earlykey", hostOptions{clips: []clipSpec{clipQ}, srFrom: clipFPS, keysOnRequest: true})
	st, err := to.o.stream("earlykey")
	if err != nil {
		t.Fatal(err)
	}
	st.leave()
	mv := to.waitLive(t, "earlykey", "")
	pl, _ := to.mediaPlaylist(t, "earlykey", mv.Variants[0].URI)
	if len(pl.Parts) == 0 && len(pl.Segments) == 0 {
		t.Fatal("live, with no part")
	}
	if n := host.layers[0].plis.Load(); n == 0 {
		t.Fatal("the stream started without asking for a keyframe: the host's first one was not dropped, the test shows nothing")
	}
	t.Logf("started after %d keyframe requests, %d frames sent", host.layers[0].plis.Load(), host.layers[0].sent.Load())
}
