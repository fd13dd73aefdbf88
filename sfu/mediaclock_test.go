package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestMediaClock(t *testing.T) {
	base := uint32(4_294_960_000) // just before the 32-bit wrap: sums below wrap around
	wall := time.Date(2026, 11, 24, 12, 0, 0, 250_000_000, time.UTC)
	var c mediaClock
	if _, ok := c.liveEdge(); ok {
		t.Fatal("a live edge before any packet")
	}
	c.onPacket(base)
	if _, ok := c.liveEdge(); ok {
		t.Fatal("a live edge before any sender report")
	}
	c.onSenderReport(&rtcp.SenderReport{NTPTime: NTP(wall), RTPTime: base}, 90_000)
	for _, tc := range []struct {
		name string
		ts   uint32
		want time.Duration
	}{
		{"the report's own timestamp", base, 0},
		{"one second later, across the wrap", base + 90_000, time.Second},
		{"a frame before the report", base - 3_000, -time.Second / 30},
	} {
		got, ok := c.captureTime(tc.ts)
		if !ok || got.Sub(wall).Round(time.Millisecond) != tc.want.Round(time.Millisecond) {
			t.Errorf("%s: %v (%v), want report + %v", tc.name, got.Sub(wall), ok, tc.want)
		}
	}
	c.onPacket(base + 45_000) // newer, across the wrap
	c.onPacket(base + 3_000)  // older, late: not the edge
	if edge, ok := c.liveEdge(); !ok || edge.Sub(wall).Round(time.Millisecond) != 500*time.Millisecond {
		t.Errorf("live edge %v after the report, want 500ms", edge.Sub(wall))
	}
}
