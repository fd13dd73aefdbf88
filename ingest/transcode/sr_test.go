package transcode

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"go.uber.org/zap/zaptest"
)

// TestSenderReports: every Track gets RTCP sender reports (ffmpeg's, or made in-process for
// passthrough video) whose RTP time is in the Track's own timeline: the RTP time a report
// names for "now" is within a second of the packets arriving now (ffmpeg's timestamps start at
// random, so a report in the wrong timeline would be off by hours). That is what the room's
// media clock and viewers' lip sync are built on.
func TestSenderReports(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 320, height: 240, fps: 30, seconds: 2, profile: "baseline", audio: true})
	for _, mode := range []Passthrough{PassthroughNever, PassthroughAuto} {
		t.Run(string(mode), func(t *testing.T) {
			l, err := Start(context.Background(), Config{Passthrough: mode}, fx.src, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			type report struct {
				at time.Time
				sr rtcp.SenderReport
			}
			var mu sync.Mutex
			srs := map[uint32][]report{}
			var cs []*collector
			for _, tr := range l.Tracks() {
				ssrc := tr.SSRC
				l.OnSenderReport(ssrc, func(sr *rtcp.SenderReport) {
					mu.Lock()
					srs[ssrc] = append(srs[ssrc], report{time.Now(), *sr})
					mu.Unlock()
				})
				cs = append(cs, collect(tr))
			}
			stop, fed := make(chan struct{}), make(chan struct{})
			fedStart := time.Now()
			go func() { defer close(fed); feed(t, l, fx, 100, stop, fedStart) }()
			// ffmpeg reports at its first packet and then every 5 s.
			time.Sleep(6 * time.Second)
			close(stop)
			<-fed
			l.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range cs {
				c.wait(t)
				got := srs[c.track.SSRC]
				if len(got) == 0 {
					t.Errorf("track %q (%s): no sender report", c.track.RID, c.track.Kind)
					continue
				}
				// The first report comes with the first packet, not 5 s later: the room
				// has a media clock from the start.
				if d := got[0].at.Sub(fedStart); d > 2*time.Second {
					t.Errorf("track %q (%s): first sender report after %v", c.track.RID, c.track.Kind, d)
				}
				rate := float64(c.track.Codec.ClockRate)
				for _, r := range got {
					if off := nearestOffset(c, r.at, r.sr.RTPTime, rate); off < -time.Second || off > time.Second {
						t.Errorf("track %q (%s): sender report RTP time %d is %v off the stream's", c.track.RID, c.track.Kind, r.sr.RTPTime, off)
					}
				}
				t.Logf("track %q (%s): %d sender reports", c.track.RID, c.track.Kind, len(got))
			}
		})
	}
}

// nearestOffset says how far a report's RTP time is from the stream's at the report's
// arrival: when the stream reached rtpTime (the first packet's arrival plus the RTP time
// since, the stream being live-paced) compared with when the report came.
func nearestOffset(c *collector, at time.Time, rtpTime uint32, rate float64) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pkts) == 0 {
		return 0
	}
	since := float64(int32(rtpTime-c.pkts[0].Timestamp)) / rate
	return c.first.Add(time.Duration(since * float64(time.Second))).Sub(at)
}
