package signaling

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/signaling/auth"
)

// Flow control for interaction data channels: a writer waits while more than
// dcHighWater bytes are queued in SCTP, until the queue drains below dcLowWater, for at
// most dcWriteWait; the hub's per-connection queue and slow-reader policy do the rest.
const (
	dcHighWater = 1 << 20
	dcLowWater  = 256 << 10
	dcWriteWait = 10 * time.Second
)

var (
	errNotInteraction = errors.New("data channel is not the interaction channel")
	errDCSlow         = errors.New("data channel peer is not reading")
)

// AttachDataChannel connects a WebRTC session's interaction data channel (label
// datachannel.Label, reliable and ordered; protocol datachannel.BatchProtocol for
// batched frames) to the hub, for the session's room and
// claims (nil for an anonymous viewer). Call it from OnDataChannel (the client opened
// the channel in its offer) or right after creating the channel; messages the hub sends
// before the channel opens wait for it. The connection closes with the channel.
//
// It is how WHIP and WHEP sessions get the interaction protocol; the SFU never sees it.
// layers, for a viewer's session, applies the client's media.layer message (its layer
// cap); nil for a host's session, whose client is then told media.layer is not for it.
func AttachDataChannel(hub *datachannel.Hub, room string, claims *auth.Claims, dc *webrtc.DataChannel, layers func(layer string) error) (*datachannel.Conn, error) {
	if dc.Label() != datachannel.Label {
		return nil, fmt.Errorf("%w: label %q, want %q", errNotInteraction, dc.Label(), datachannel.Label)
	}
	if !dc.Ordered() || dc.MaxRetransmits() != nil || dc.MaxPacketLifeTime() != nil {
		return nil, fmt.Errorf("%w: it must be reliable and ordered", errNotInteraction)
	}
	t := &dcTransport{dc: dc, batch: dc.Protocol() == datachannel.BatchProtocol, opened: make(chan struct{}), low: make(chan struct{}, 1), closed: make(chan struct{})}
	dc.SetBufferedAmountLowThreshold(dcLowWater)
	dc.OnBufferedAmountLow(func() {
		select {
		case t.low <- struct{}{}:
		default:
		}
	})
	var tr datachannel.Transport = t
	if layers != nil {
		tr = viewerTransport{t, layers}
	}
	conn, err := hub.Join(room, claims, tr)
	if err != nil {
		_ = dc.Close()
		return nil, err
	}
	// Handlers before the open check: a channel that opens meanwhile is seen either way,
	// and messages (which only come after open) find their handler in place.
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if !m.IsString {
			_ = conn.ReceiveBinary() // the protocol is text; answered, never read
			return
		}
		_ = conn.Receive(m.Data)
	})
	dc.OnClose(func() { go conn.Close() }) // not on pion's goroutine: Close waits for our writer
	dc.OnOpen(t.markOpen)
	if dc.ReadyState() == webrtc.DataChannelStateOpen {
		t.markOpen()
	}
	return conn, nil
}

// viewerTransport is the data channel of a viewer's session: it also takes media.layer.
type viewerTransport struct {
	*dcTransport
	setLayer func(string) error
}

// SetLayer implements datachannel.LayerControl.
func (t viewerTransport) SetLayer(layer string) error { return t.setLayer(layer) }

// dcTransport is a datachannel.Transport over a pion data channel.
type dcTransport struct {
	dc       *webrtc.DataChannel
	batch    bool // the channel's protocol is datachannel.BatchProtocol
	opened   chan struct{}
	openOnce sync.Once
	low      chan struct{}
	closed   chan struct{}
	once     sync.Once
}

// Batched implements datachannel.Batcher.
func (t *dcTransport) Batched() bool { return t.batch }

func (t *dcTransport) markOpen() { t.openOnce.Do(func() { close(t.opened) }) }

func (t *dcTransport) Write(b []byte) error {
	timeout := time.NewTimer(dcWriteWait)
	defer timeout.Stop()
	select {
	case <-t.opened:
	case <-t.closed:
		return datachannel.ErrClosed
	case <-timeout.C:
		return fmt.Errorf("%w: the channel did not open", errDCSlow)
	}
	for t.dc.BufferedAmount() > dcHighWater {
		select {
		case <-t.low:
		case <-t.closed:
			return datachannel.ErrClosed
		case <-timeout.C:
			return errDCSlow
		}
	}
	return t.dc.SendText(string(b))
}

func (t *dcTransport) Close() error {
	t.once.Do(func() {
		close(t.closed)
		_ = t.dc.Close()
	})
	return nil
}

// MediaSession marks the channel as riding a WebRTC session: its viewer is counted in
// presence through the SFU, not again as an interaction connection.
func (t *dcTransport) MediaSession() {}
