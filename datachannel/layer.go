package datachannel

import (
	"fmt"
	"time"
)

// LayerControl is implemented by a Transport that rides a WebRTC viewer's session (the
// interaction channel of a WHEP session): the client's media.layer message caps the
// simulcast layer that session receives, as a player does when it shrinks or hides the
// video. SetLayer takes "q", "h" or "f" and says why it cannot in its error.
type LayerControl interface {
	SetLayer(layer string) error
}

// MediaLayer is the payload of media.layer.
type MediaLayer struct {
	Layer string `json:"layer"` // the highest layer to receive: q, h or f
}

// setLayer handles media.layer: it is answered here, not by the room, since it concerns
// only this connection's media session.
func (c *Conn) setLayer(env *Envelope, now time.Time) {
	var p MediaLayer
	if err := DecodePayload(env, &p); err != nil {
		c.sendError(env.ID, err, now)
		return
	}
	lc, ok := c.t.(LayerControl)
	if !ok {
		c.sendError(env.ID, fmt.Errorf("%w: media.layer is for the data channel of a WebRTC viewer; this connection carries no video", ErrRejected), now)
		return
	}
	if err := lc.SetLayer(p.Layer); err != nil {
		c.sendError(env.ID, fmt.Errorf("%w: %v", ErrBadPayload, err), now)
		return
	}
	c.ack(env, p)
}

// MediaLayers is the payload of media.layers: the simulcast layers of a host's video some
// viewer (or the LL-HLS muxer) wants, lowest first; the host may stop encoding the others.
type MediaLayers struct {
	Layers []string `json:"layers"` // q, h, f; empty when nobody watches
}

// SendMediaLayers sends this connection, a host's, a media.layers message (docs/PROTOCOL.md,
// Dynacast): on attach and whenever the set changes. Like media.clock it is a direct
// message, never skipped by the slow-reader policy: a host that missed a resume would keep
// a layer paused that a viewer waits for.
func (c *Conn) SendMediaLayers(layers []string) {
	if layers == nil {
		layers = []string{}
	}
	c.reply(TypeMediaLayers, "", MediaLayers{Layers: layers})
}
