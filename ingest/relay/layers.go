package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// A relay receives every simulcast layer of the origin's video apart (a video section per
// layer, q, h and f in that order: sfu.SubscribeOptions.Layered at the origin) and puts
// each on this node's stage as that layer, so this node's viewers switch layers as the
// origin's do and its LL-HLS has every rendition. Which layers the origin forwards is
// what this node's readers want: the relay's host session listens to the room's dynacast
// demand and tells the origin (PUT {session}/layers), whose host then encodes what the
// whole cluster's viewers need.

// receivers adds the relay's receive-only sections: one video section per simulcast
// layer, then audio. It returns the video sections' receivers by layer.
func receivers(pc *webrtc.PeerConnection) (video [3]*webrtc.RTPReceiver, err error) {
	for l := range video {
		tr, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
		if err != nil {
			return video, err
		}
		video[l] = tr.Receiver()
	}
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	return video, err
}

// ridOf names the layer a relayed track carries: its video section's, "" for audio.
func ridOf(video [3]*webrtc.RTPReceiver, recv *webrtc.RTPReceiver) string {
	for l, r := range video {
		if r == recv {
			return sfu.LayerName(l)
		}
	}
	return ""
}

// layersBody is the body of PUT {session}/layers: the layers a layered WHEP session
// forwards, by name.
type layersBody struct {
	Layers []string `json:"layers"`
}

// layerRetry is how soon a layer set the origin did not take is sent again, doubling
// with each failure in a row up to maxLayerRetry.
const (
	layerRetry    = time.Second
	maxLayerRetry = 30 * time.Second
)

// tellLayers keeps the origin told which layers this node's readers of the room want,
// from now until stop: the room's demand only notes the latest set, one goroutine of the
// relay's host session sends it, so the SFU never waits on the origin, and a set
// superseded before it went out is never sent. The lowest layer the relay receives is
// always asked for, as an SDK host always sends its lowest: a host without simulcast
// reaches this node as its f layer alone, which a viewer capped below it is given.
func (p *pull) tellLayers(room *sfu.Room, host *sfu.Peer, location, token string) (stop func()) {
	var latest atomic.Int32 // a bit per layer; -1: nothing to tell yet
	latest.Store(-1)
	wake := make(chan struct{}, 1)
	stopDemand := room.OnLayerDemand(host, func(wanted [3]bool) {
		latest.Store(int32(sfu.LayerBits(wanted)))
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	video := room.Track(webrtc.RTPCodecTypeVideo)
	host.Go(func() {
		defer cancel()
		go func() { // a request in flight ends with the session
			select {
			case <-host.Stopping():
			case <-p.relays.stop:
			case <-ctx.Done():
			}
			cancel()
		}()
		sent, failures := int32(-1), 0
		var backoffUntil time.Time // after a failure: no PUT before (retry fires then)
		retry := time.NewTimer(time.Hour)
		defer retry.Stop()
		// The lowest layer received changes with no change of demand (the origin's layers
		// reach this node one by one, h before q now and then): look again now and then.
		recheck := time.NewTicker(lowestRecheck)
		defer recheck.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
			case <-retry.C:
			case <-recheck.C:
			}
			bits := latest.Load()
			if bits < 0 || time.Now().Before(backoffUntil) {
				continue
			}
			if l, ok := video.LowestLayer(); ok {
				bits |= 1 << l
			}
			if bits == sent {
				continue
			}
			err := putLayers(ctx, p.relays.client, location, token, bits)
			var refused *refusal
			switch {
			case err == nil:
				sent, failures = bits, 0
			case errors.As(err, &refused):
				// An origin that cannot take it (an older node, a session it ended) never
				// will: it forwards every layer, as before there was dynacast across nodes.
				p.log.Info("origin does not take the layers this node needs; it sends them all", zap.Error(err))
				return
			default:
				if failures++; failures == 1 {
					p.log.Info("origin not told the layers this node needs; retrying", zap.Error(err))
				}
				wait := min(layerRetry<<min(failures-1, 5), maxLayerRetry)
				backoffUntil = time.Now().Add(wait)
				retry.Reset(wait)
			}
		}
	})
	return func() {
		stopDemand()
		cancel() // no PUT after the session at the origin is deleted
	}
}

// lowestRecheck is how often the relay looks again at the lowest layer it receives.
const lowestRecheck = 500 * time.Millisecond

// refusal is an origin's answer that asking again will not change (4xx but 429).
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// putLayers tells a layered WHEP session at the origin to forward the layers in bits.
func putLayers(ctx context.Context, client *http.Client, location, token string, bits int32) error {
	body := layersBody{Layers: []string{}}
	for l := range 3 {
		if bits&(1<<l) != 0 {
			body.Layers = append(body.Layers, sfu.LayerName(l))
		}
	}
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, location+"/layers", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		err := fmt.Errorf("PUT %s/layers: %d: %s", location, res.StatusCode, bytes.TrimSpace(msg))
		if res.StatusCode >= 400 && res.StatusCode < 500 && res.StatusCode != http.StatusTooManyRequests {
			return &refusal{err}
		}
		return err
	}
	return nil
}
