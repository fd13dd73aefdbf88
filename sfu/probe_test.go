package sfu

import (
	"testing"
	"time"
)

// TestProberShortUntilEnoughSent: a probe is short until it has sent probeMinPackets over
// probeMinSpan; the allocator holds a short probe on (Selector.HoldProbe) rather than judge
// one that cannot be measured.
func TestProberShortUntilEnoughSent(t *testing.T) {
	var p prober
	p.onSent(1, 300) // not recording: ignored
	p.start()
	if !p.short() {
		t.Fatal("a probe that sent nothing is not short")
	}
	for seq := range uint16(probeMinPackets) {
		p.onSent(seq, 300)
	}
	if !p.short() {
		t.Fatalf("%d packets sent at once: not short, want short (their span is under %v)", probeMinPackets, probeMinSpan)
	}
	time.Sleep(probeMinSpan)
	p.onSent(probeMinPackets, 300)
	if p.short() {
		t.Fatalf("%d packets over %v: still short", probeMinPackets+1, probeMinSpan)
	}
	p.start()
	if !p.short() {
		t.Fatal("a new probe is not short: start kept the last probe's count")
	}
}
