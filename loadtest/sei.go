package loadtest

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// seiUUID marks Glint's timing SEI (user_data_unregistered, payload type 5) so that other
// SEI messages in a stream are ignored.
var seiUUID = [16]byte{'g', 'l', 'i', 'n', 't', '-', 'l', 'o', 'a', 'd', 't', 'e', 's', 't', 0x01, 0x00}

const seiPayloadLen = 16 + 8 + 8 // UUID, send time (unix ns), frame number

// timingSEI builds an SEI NAL unit (without start code) carrying the send time and frame
// number. Emulation prevention bytes are inserted so the NAL is valid H.264.
func timingSEI(sendUnixNano int64, frame uint64) []byte {
	var payload [seiPayloadLen]byte
	copy(payload[:16], seiUUID[:])
	binary.BigEndian.PutUint64(payload[16:24], uint64(sendUnixNano))
	binary.BigEndian.PutUint64(payload[24:32], frame)
	rbsp := make([]byte, 0, 3+seiPayloadLen+1)
	rbsp = append(rbsp, 5, seiPayloadLen) // payloadType 5, payloadSize 32
	rbsp = append(rbsp, payload[:]...)
	rbsp = append(rbsp, 0x80) // rbsp_trailing_bits
	nal := []byte{0x06}       // nal_unit_type 6, nal_ref_idc 0
	return append(nal, escape(rbsp)...)
}

var errNotTimingSEI = errors.New("not a glint timing SEI")

// parseTimingSEI reads a NAL unit made by timingSEI.
func parseTimingSEI(nal []byte) (sendUnixNano int64, frame uint64, err error) {
	if len(nal) < 3 || nal[0]&0x1f != 6 {
		return 0, 0, errNotTimingSEI
	}
	rbsp := unescape(nal[1:])
	if len(rbsp) < 2+seiPayloadLen || rbsp[0] != 5 || rbsp[1] != seiPayloadLen || !bytes.Equal(rbsp[2:18], seiUUID[:]) {
		return 0, 0, errNotTimingSEI
	}
	p := rbsp[2 : 2+seiPayloadLen]
	return int64(binary.BigEndian.Uint64(p[16:24])), binary.BigEndian.Uint64(p[24:32]), nil
}

// escape inserts emulation-prevention bytes: 00 00 0x (x <= 3) becomes 00 00 03 0x.
func escape(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/2)
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// unescape removes emulation-prevention bytes.
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}
