package rtmp

import (
	"errors"
	"fmt"
	"time"

	"github.com/abema/go-mp4"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// eventKind says what a demuxed RTMP message carried.
type eventKind uint8

const (
	evNone        eventKind = iota
	evVideoConfig           // sps, pps
	evVideo                 // nalus, pts, dts
	evAudioConfig           // asc
	evAudio                 // aac, pts
	evMetadata              // meta
)

// event is one RTMP message reduced to what ingest uses. Classic FLV tags and Enhanced
// RTMP's extended tags for the same codec become the same event.
type event struct {
	kind     eventKind
	dts, pts time.Duration
	sps, pps []byte
	nalus    [][]byte
	aac      []byte
	asc      *mpeg4audio.AudioSpecificConfig
	meta     metadata
}

// metadata is the stream's onMetaData: which tracks the encoder says it will send.
type metadata struct {
	video, audio bool
	fps          float64
}

// demux turns one message into an event. A codec Glint cannot take is an error wrapping
// ErrUnsupportedCodec that names the codec; messages that carry no media (control, ping,
// sequence end) are evNone.
func demux(msg message.Message) (event, error) {
	switch m := msg.(type) {
	case *message.Video:
		return demuxVideo(m)
	case *message.VideoExSequenceStart:
		if m.FourCC != message.FourCCAVC {
			return event{}, unsupported("video", m.FourCC)
		}
		return videoConfig(m.AVCConfig)
	case *message.VideoExCodedFrames:
		if m.FourCC != message.FourCCAVC {
			return event{}, unsupported("video", m.FourCC)
		}
		return videoAU(m.DTS, m.DTS+m.PTSDelta, m.Payload)
	case *message.VideoExFramesX:
		if m.FourCC != message.FourCCAVC {
			return event{}, unsupported("video", m.FourCC)
		}
		return videoAU(m.DTS, m.DTS, m.Payload)
	case *message.VideoExMultitrack:
		return event{}, fmt.Errorf("%w: multitrack video (Enhanced RTMP v2)%s", ErrUnsupportedCodec, takes)
	case *message.Audio:
		return demuxAudio(m)
	case *message.AudioExSequenceStart:
		if m.FourCC != message.FourCCMP4A {
			return event{}, unsupported("audio", m.FourCC)
		}
		return audioConfig(m.AACConfig)
	case *message.AudioExCodedFrames:
		if m.FourCC != message.FourCCMP4A {
			return event{}, unsupported("audio", m.FourCC)
		}
		if len(m.Payload) == 0 {
			return event{}, nil
		}
		return event{kind: evAudio, dts: m.DTS, pts: m.DTS, aac: m.Payload}, nil
	case *message.AudioExMultitrack:
		return event{}, fmt.Errorf("%w: multitrack audio (Enhanced RTMP v2)%s", ErrUnsupportedCodec, takes)
	case *message.DataAMF0:
		if meta, ok := parseMetadata(m.Payload); ok {
			return event{kind: evMetadata, meta: meta}, nil
		}
	}
	return event{}, nil
}

func demuxVideo(m *message.Video) (event, error) {
	if m.Codec != message.CodecH264 {
		return event{}, fmt.Errorf("%w: HEVC (H.265) video%s", ErrUnsupportedCodec, takes)
	}
	switch m.Type {
	case message.VideoTypeConfig:
		return videoConfig(m.AVCConfig)
	case message.VideoTypeAU:
		return videoAU(m.DTS, m.DTS+m.PTSDelta, m.AU)
	}
	return event{}, nil // end of sequence
}

func demuxAudio(m *message.Audio) (event, error) {
	if m.Codec != message.CodecMPEG4Audio {
		return event{}, fmt.Errorf("%w: %s audio%s", ErrUnsupportedCodec, classicAudioName(m.Codec), takes)
	}
	if m.AACType == message.AudioAACTypeConfig {
		if m.AACConfig == nil {
			return event{}, nil
		}
		return audioConfig(m.AACConfig)
	}
	return event{kind: evAudio, dts: m.DTS, pts: m.DTS, aac: m.AU}, nil
}

func videoConfig(c *mp4.AVCDecoderConfiguration) (event, error) {
	if c == nil || len(c.SequenceParameterSets) == 0 || len(c.PictureParameterSets) == 0 {
		return event{}, fmt.Errorf("%w: H.264 configuration without SPS or PPS", ErrBadStream)
	}
	sps, pps := c.SequenceParameterSets[0].NALUnit, c.PictureParameterSets[0].NALUnit
	if len(sps) < 4 || len(pps) < 1 {
		return event{}, fmt.Errorf("%w: H.264 configuration with an empty SPS or PPS", ErrBadStream)
	}
	return event{kind: evVideoConfig, sps: sps, pps: pps}, nil
}

func videoAU(dts, pts time.Duration, payload []byte) (event, error) {
	var au h264.AVCC
	if err := au.Unmarshal(payload); err != nil {
		if errors.Is(err, h264.ErrAVCCNoNALUs) {
			return event{}, nil
		}
		return event{}, fmt.Errorf("%w: H.264 access unit: %v", ErrBadStream, err)
	}
	return event{kind: evVideo, dts: dts, pts: pts, nalus: au}, nil
}

func audioConfig(c *mpeg4audio.AudioSpecificConfig) (event, error) {
	if c == nil {
		return event{}, fmt.Errorf("%w: AAC configuration missing", ErrBadStream)
	}
	return event{kind: evAudioConfig, asc: c}, nil
}

// takes ends every unsupported-codec message: what to send instead.
const takes = "; Glint takes H.264 video and AAC audio (in OBS: x264 or another H.264 encoder, AAC)"

func unsupported(kind string, fourCC message.FourCC) error {
	names := map[message.FourCC]string{
		message.FourCCHEVC: "HEVC (H.265)", message.FourCCAV1: "AV1", message.FourCCVP9: "VP9",
		message.FourCCOpus: "Opus", message.FourCCFLAC: "FLAC", message.FourCCAC3: "AC-3", message.FourCCMP3: "MP3",
		message.FourCCAVC: "H.264", message.FourCCMP4A: "AAC",
	}
	name, ok := names[fourCC]
	if !ok {
		name = fmt.Sprintf("fourCC %q", string([]byte{byte(fourCC >> 24), byte(fourCC >> 16), byte(fourCC >> 8), byte(fourCC)}))
	}
	return fmt.Errorf("%w: %s %s over Enhanced RTMP%s", ErrUnsupportedCodec, name, kind, takes)
}

func classicAudioName(codec uint8) string {
	switch codec {
	case message.CodecMPEG1Audio:
		return "MP3"
	case message.CodecPCMA, message.CodecPCMU:
		return "G.711"
	case message.CodecLPCM:
		return "PCM"
	}
	return fmt.Sprintf("codec %d", codec)
}

// parseMetadata reads onMetaData (sent as "@setDataFrame", "onMetaData", {…} by ffmpeg and
// OBS): the codec ids say which tracks will come, so the probe need not wait for a track
// that never will.
func parseMetadata(d amf0.Data) (metadata, bool) {
	if len(d) > 0 && d[0] == "@setDataFrame" {
		d = d[1:]
	}
	if len(d) < 2 || d[0] != "onMetaData" {
		return metadata{}, false
	}
	var obj amf0.Object
	switch o := d[1].(type) {
	case amf0.Object:
		obj = o
	case amf0.ECMAArray:
		obj = amf0.Object(o)
	default:
		return metadata{}, false
	}
	var meta metadata
	for _, e := range obj {
		switch e.Key {
		case "videocodecid":
			meta.video = present(e.Value)
		case "audiocodecid":
			meta.audio = present(e.Value)
		case "framerate":
			if f, ok := e.Value.(float64); ok && f > 0 && f <= 240 {
				meta.fps = f
			}
		}
	}
	return meta, true
}

// present: encoders write a codec id as a number (7, 10) or a fourCC string ("avc1");
// 0 or "" means no such track.
func present(v any) bool {
	switch x := v.(type) {
	case float64:
		return x != 0
	case string:
		return x != ""
	}
	return false
}
