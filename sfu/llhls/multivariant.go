package llhls

import (
	"strconv"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// multivariant lists one variant per muxed layer, best first, each with its own audio
// rendition group, with BANDWIDTH measured from what was muxed (the peak second, plus a
// tenth: what a player's ABR compares its throughput with), RESOLUTION and CODECS from the
// bitstream and FRAME-RATE from the timestamps.
func (s *stream) multivariant() ([]byte, error) {
	pl := &playlist.Multivariant{Version: 9, IndependentSegments: true}
	for l := numLayers - 1; l >= 0; l-- {
		v := s.variant(l)
		if v == nil {
			continue
		}
		avg, peak := v.bits.rates(v.created)
		mv := &playlist.MultivariantVariant{
			Bandwidth:  max(peak*11/10, 1),
			Codecs:     v.codecs,
			URI:        v.name + "/" + videoPlaylist,
			Resolution: strconv.Itoa(v.width) + "x" + strconv.Itoa(v.height),
		}
		if avg > 0 {
			a := avg
			mv.AverageBandwidth = &a
		}
		if v.frameRate > 0 {
			f := float64(int(v.frameRate*1000+0.5)) / 1000
			mv.FrameRate = &f
		}
		if v.audio != nil {
			group := "audio-" + v.name
			mv.Audio = group
			uri := v.name + "/" + audioPlaylist
			pl.Renditions = append(pl.Renditions, &playlist.MultivariantRendition{
				Type: playlist.MultivariantRenditionTypeAudio, GroupID: group, Name: "audio",
				Autoselect: true, Default: true, URI: &uri,
			})
		}
		pl.Variants = append(pl.Variants, mv)
	}
	if len(pl.Variants) == 0 {
		return nil, ErrStarting
	}
	return pl.Marshal()
}
