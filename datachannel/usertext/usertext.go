package usertext

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid: the text breaks the policy. The wrapped message names the first offending
// character and its byte offset.
var ErrInvalid = errors.New("text not allowed")

// Form is where the text is shown, which decides whether it may span lines.
type Form uint8

const (
	// Line is a label shown on one line: a name, a title, a poll option.
	Line Form = iota
	// Lines is a message that may span lines: chat, Q&A, a gift message. Only "\n"
	// breaks a line; "\r" is refused so there is one way to write a line break.
	Lines
)

// Check reports whether s may be shown to other people as f. It refuses:
//   - bytes that are not UTF-8, and U+FFFD, which is what a JSON decoder makes of them
//     (and of an escaped lone surrogate), so corrupted text is refused, not shown;
//   - C0 and C1 control characters and DEL (except "\n" in Lines), which terminals and
//     some renderers act on;
//   - bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which
//     reorder the text around them ("Trojan Source"); the marks U+200E, U+200F and
//     U+061C only affect neutral characters next to them and are kept for RTL writers;
//   - U+2028 and U+2029, line breaks other than "\n";
//   - invisible characters used to fake empty or look-alike text: U+200B zero-width
//     space, U+2060-U+2064, U+FEFF, interlinear annotation U+FFF9-U+FFFB, the language
//     tag U+E0001, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, the braille
//     blank U+2800, the soft hyphen U+00AD, U+034F, U+180E, U+17B4-U+17B5 and the
//     musical format characters U+1D173-U+1D17A; zero-width (non-)joiners and
//     variation selectors are kept, since emoji and several scripts need them;
//   - tag characters (U+E0020-U+E007F) except in a flag tag sequence: after U+1F3F4,
//     up to and including the cancel tag U+E007F;
//   - noncharacters (U+FDD0-U+FDEF and the last two code points of every plane);
//   - non-empty text with nothing visible: only whitespace, format characters
//     (joiners, marks) and variation selectors. The empty string passes: whether a
//     field may be empty is the caller's rule.
//
// Lengths are the caller's rule; Check allocates nothing when s passes.
func Check(s string, f Form) error {
	visible, inFlag := false, false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("%w: byte %d is not UTF-8", ErrInvalid, i)
		}
		if isTag(r) {
			if !inFlag {
				return fmt.Errorf("%w: U+%04X (tag character outside a flag) at byte %d", ErrInvalid, r, i)
			}
			inFlag = r != cancelTag
		} else {
			if why := refused(r, f); why != "" {
				return fmt.Errorf("%w: U+%04X (%s) at byte %d", ErrInvalid, r, why, i)
			}
			inFlag = r == blackFlag
			visible = visible || !blank(r)
		}
		i += size
	}
	if s != "" && !visible {
		return fmt.Errorf("%w: nothing visible, only blank or format characters", ErrInvalid)
	}
	return nil
}

const (
	blackFlag = 0x1f3f4 // starts a flag tag sequence (England, Scotland, Wales)
	cancelTag = 0xe007f // ends one
)

func isTag(r rune) bool { return r >= 0xe0020 && r <= 0xe007f }

// blank says whether r shows nothing by itself: whitespace, a format character (joiners,
// direction marks) or a variation selector.
func blank(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r)
}

// refused says why r is not allowed in f, or "" if it is.
func refused(r rune, f Form) string {
	switch {
	case r == '\n':
		if f == Lines {
			return ""
		}
		return "line break"
	case r < 0x20 || (r >= 0x7f && r <= 0x9f):
		return "control character"
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return "bidi override"
	case r == 0x2028 || r == 0x2029:
		return "line break"
	case r == 0x200b, r >= 0x2060 && r <= 0x2064, r == 0xfeff, r >= 0xfff9 && r <= 0xfffb, r == 0xe0001,
		r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0, r == 0x2800, r == 0xad, r == 0x34f,
		r == 0x180e, r == 0x17b4, r == 0x17b5, r >= 0x1d173 && r <= 0x1d17a:
		return "invisible character"
	case r == utf8.RuneError:
		return "replacement character: the text was not valid UTF-8"
	case r >= 0xfdd0 && r <= 0xfdef, r&0xfffe == 0xfffe:
		return "noncharacter"
	}
	return ""
}
