package sfu

import (
	"fmt"
	"strings"
	"time"
)

// Simulcast layers, lowest first. A publisher without simulcast has one layer, LayerFull.
const (
	LayerLow  = 0 // rid "q": quarter resolution
	LayerMid  = 1 // rid "h": half
	LayerFull = 2 // rid "f" or no simulcast
	numLayers = 3
)

// layerIdle is how long a layer may go without a packet before it counts as stopped: an
// encoder drops its upper layers under congestion or CPU load, and viewers on a stopped
// layer must move to one that still flows. It bounds the freeze such a viewer sees (plus a
// keyframe request); a layer slower than 2 frames a second would be taken for stopped.
const layerIdle = 500 * time.Millisecond

// LayerFromRID maps a simulcast RID to a layer. Browsers and LiveKit's SDKs use q/h/f;
// other senders use l/m/h or 0/1/2 (lowest first). An empty RID is a non-simulcast track.
func LayerFromRID(rid string) (int, error) {
	switch strings.ToLower(rid) {
	case "q", "l", "low", "0":
		return LayerLow, nil
	case "h", "m", "mid", "1":
		return LayerMid, nil
	case "f", "", "high", "2":
		return LayerFull, nil
	}
	return 0, fmt.Errorf("%w: unknown simulcast rid %q (want q, h or f)", ErrUnsupportedCodec, rid)
}

// ParseLayer reads a viewer's layer cap as given on WHEP (?layer=q|h|f).
func ParseLayer(s string) (int, error) {
	if s == "" {
		return LayerFull, nil
	}
	l, err := LayerFromRID(s)
	if err != nil {
		return 0, fmt.Errorf("layer %q: want q, h or f", s)
	}
	return l, nil
}

// LayerName is the RID-style name of a layer.
func LayerName(l int) string { return [...]string{"q", "h", "f"}[l] }

// LayerBits is a set of layers (Room.OnLayerDemand's wanted) as a bit per layer.
func LayerBits(wanted [numLayers]bool) uint8 {
	var bits uint8
	for l, w := range wanted {
		if w {
			bits |= 1 << l
		}
	}
	return bits
}
