package usertext

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    string
		f    Form
		ok   bool
	}{
		{"plain", "hello, world", Line, true},
		{"empty", "", Line, true}, // emptiness is the caller's rule
		{"accents and CJK", "café 東京 Привет", Line, true},
		{"emoji with ZWJ", "👩\u200d👩\u200d👧 family", Line, true},
		{"emoji with variation selector", "❤\ufe0f", Line, true},
		{"flag of England (tag characters)", "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", Line, true},
		{"Persian ZWNJ", "می\u200cخواهم", Line, true},
		{"RTL marks", "abc\u200fשלום\u200e\u061c", Line, true},
		{"newline in lines", "one\ntwo", Lines, true},
		{"newline in a line", "one\ntwo", Line, false},
		{"carriage return", "one\r\ntwo", Lines, false},
		{"tab", "a\tb", Lines, false},
		{"NUL", "a\x00b", Lines, false},
		{"escape", "\x1b[2J", Lines, false},
		{"DEL", "a\x7f", Line, false},
		{"C1 NEL", "a\u0085b", Lines, false},
		{"C1 CSI", "a\u009b", Line, false},
		{"RLO", "user\u202egnp.exe", Line, false},
		{"LRE", "\u202aa", Line, false},
		{"PDF", "a\u202c", Line, false},
		{"RLI", "\u2067a\u2069", Line, false},
		{"FSI", "\u2068", Line, false},
		{"line separator", "a\u2028b", Lines, false},
		{"paragraph separator", "a\u2029b", Lines, false},
		{"zero-width space", "\u200b", Line, false},
		{"word joiner", "a\u2060b", Line, false},
		{"BOM", "\ufeffhi", Line, false},
		{"interlinear annotation", "\ufff9a\ufffa", Line, false},
		{"language tag", "\U000E0001", Line, false},
		{"replacement character", "a\ufffdb", Line, false},
		{"noncharacter FFFE", "\ufffe", Line, false},
		{"noncharacter plane 1", "\U0001FFFF", Line, false},
		{"noncharacter FDD0", "\ufdd0", Line, false},
		{"Hangul filler only", "\u3164", Line, false},
		{"Hangul filler in a name", "a\u3164b", Line, false},
		{"Hangul choseong filler", "\u115f", Line, false},
		{"Hangul jungseong filler", "\u1160", Line, false},
		{"halfwidth Hangul filler", "\uffa0", Line, false},
		{"braille blank", "\u2800", Lines, false},
		{"soft hyphen", "a\u00adb", Line, false},
		{"combining grapheme joiner", "a\u034f", Line, false},
		{"Mongolian vowel separator", "a\u180eb", Line, false},
		{"Khmer inherent vowel", "\u17b4\u17b5", Line, false},
		{"musical symbol begin beam", "a\U0001D173", Line, false},
		{"musical symbol end phrase", "a\U0001D17A", Line, false},
		{"tag characters outside a flag", "hi\U000E0068\U000E0069", Line, false},
		{"cancel tag alone", "\U000E007F", Line, false},
		{"tag characters after a flag's end", "🏴\U000E0067\U000E007F\U000E0067", Line, false},
		{"two flags", "🏴\U000E0067\U000E0062\U000E007F 🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", Line, true},
		{"spaces only", "   ", Line, false},
		{"newlines only", "\n\n", Lines, false},
		{"ZWJ and space only", "\u200d \ufe0f", Line, false},
		{"NBSP and ideographic space only", "\u00a0\u3000", Line, false},
		{"RTL mark only", "\u200f", Line, false},
		{"text with spaces", "  a  ", Line, true},
		{"invalid byte", "a\xffb", Lines, false},
		{"truncated sequence", "caf\xc3", Line, false},
		{"overlong NUL", "\xc0\x80", Line, false},
		{"encoded surrogate", "\xed\xa0\x80", Line, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.s, tc.f)
			if (err == nil) != tc.ok {
				t.Fatalf("Check(%q) = %v, want ok=%v", tc.s, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestCheckAllocatesNothing(t *testing.T) {
	s := strings.Repeat("héllo wörld 👍\n", 20) + "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"
	if n := testing.AllocsPerRun(100, func() { _ = Check(s, Lines) }); n != 0 {
		t.Fatalf("%v allocations per accepted string", n)
	}
}

// FuzzCheck: whatever Check accepts is UTF-8 without a refused character, and whatever it
// refuses is named at a byte offset inside the string.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"hello", "a\nb", "\u202e", "\xff", "👩\u200d👩", "\ufeff", "\x00"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, lines bool) {
		form := Line
		if lines {
			form = Lines
		}
		err := Check(s, form)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("accepted invalid UTF-8 %q", s)
		}
		for _, r := range s {
			if refused(r, form) != "" {
				t.Fatalf("accepted %q with U+%04X", s, r)
			}
			if r < 0x20 && !(r == '\n' && lines) {
				t.Fatalf("accepted control U+%04X in %q", r, s)
			}
		}
	})
}
