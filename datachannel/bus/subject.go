package bus

import (
	"encoding/base64"
	"strings"
)

// Log names one ordered, durable log. Build one with the functions below; the string is
// the NATS subject.
type Log string

const (
	logPrefix     = "glint.log."
	historyPrefix = "glint.history."
	eventPrefix   = "glint.room."
)

// AuctionLog is the log of one auction lot: its open, bids and close.
func AuctionLog(room, lot string) Log {
	return Log(logPrefix + token(room) + ".auction." + token(lot))
}

// AuctionLogs matches the logs of every lot of a room, for Replay.
func AuctionLogs(room string) Log { return Log(logPrefix + token(room) + ".auction.*") }

// GiftLog is the log of a room's gifts.
func GiftLog(room string) Log { return Log(logPrefix + token(room) + ".gift") }

// GiftLogs matches the gift logs of every room, for Consume.
func GiftLogs() Log { return Log(logPrefix + "*.gift") }

// UndeliveredGiftLog is the log of a room's gifts a gift webhook gave up on (its
// dead letters), kept as long as the gift log.
func UndeliveredGiftLog(room string) Log { return Log(logPrefix + token(room) + ".giftundelivered") }

// HistoryLog is a room's chat history. It lives in a separate, bounded stream: only the
// last Config.ChatHistory records per room are kept.
func HistoryLog(room string) Log { return Log(historyPrefix + token(room)) }

// Lot returns the lot id of an AuctionLog, or "" if l is not one.
func (l Log) Lot() string {
	parts := strings.Split(string(l), ".")
	if len(parts) != 5 || parts[3] != "auction" || !strings.HasPrefix(string(l), logPrefix) {
		return ""
	}
	return untoken(parts[4])
}

// Room returns the room of a concrete log, or "" if l is not one.
func (l Log) Room() string {
	s := string(l)
	var rest string
	switch {
	case strings.HasPrefix(s, logPrefix):
		rest = s[len(logPrefix):]
	case strings.HasPrefix(s, historyPrefix):
		rest = s[len(historyPrefix):]
	default:
		return ""
	}
	tok, _, _ := strings.Cut(rest, ".")
	if tok == "" || tok == "*" || tok == ">" {
		return ""
	}
	return untoken(tok)
}

// isLog reports whether l names one log or, with wildcards, several.
func isLog(l Log) bool {
	s := string(l)
	return strings.HasPrefix(s, logPrefix) || strings.HasPrefix(s, historyPrefix)
}

func eventSubject(room, topic string) string {
	if topic == "*" {
		return eventPrefix + token(room) + ".*"
	}
	return eventPrefix + token(room) + "." + token(topic)
}

// token makes s one NATS subject token. Plain names ([A-Za-z0-9_-]) pass unchanged;
// anything else (dots, wildcards, spaces, other bytes) is base64url after a '~', which
// plain names cannot start with, so the mapping is one-to-one.
func token(s string) string {
	if s != "" && plain(s) {
		return s
	}
	return "~" + base64.RawURLEncoding.EncodeToString([]byte(s))
}

func untoken(t string) string {
	if !strings.HasPrefix(t, "~") {
		return t
	}
	b, err := base64.RawURLEncoding.DecodeString(t[1:])
	if err != nil {
		return ""
	}
	return string(b)
}

func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
