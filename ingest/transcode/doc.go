// Package transcode turns an RTMP host's H.264 + AAC into the tracks the SFU forwards: an
// adaptive-bitrate ladder of up to three H.264 renditions (the simulcast layers f/h/q of one
// video Receiver) plus Opus audio, made by a supervised ffmpeg subprocess; or, when the source
// has no B-frames, the source video itself packetized in-process (passthrough) with ffmpeg only
// turning AAC into Opus.
//
// Data flow for one host session:
//
//	WriteH264/WriteAAC ─► MPEG-TS muxer ─► bounded queue ─► ffmpeg stdin
//	ffmpeg ─► -f rtp per output ─► 127.0.0.1 UDP socket we own ─► seq/ts munger ─► Track.Source
//
// The sockets outlive ffmpeg: a crashed or stalled ffmpeg is restarted with back-off and its
// new RTP numbering is spliced onto the old, so the SFU and its viewers never see the restart
// as anything but a short gap. The contract with ingest/rtmp is notes/transcode-api.md.
package transcode
