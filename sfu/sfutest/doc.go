// Package sfutest provides real pion peers for tests of the SFU and of everything that
// carries its signaling: a publisher that sends a known H.264 + Opus stream and a viewer that
// checks it arrives intact. The peers signal through a function, so the same peers run
// against the SFU directly or over WHIP/WHEP HTTP.
package sfutest
