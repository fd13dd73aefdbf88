package chat

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func TestSend(t *testing.T) {
	type send struct {
		at    float64
		from  string
		admin bool
		text  string
		err   error
	}
	tests := []struct {
		name  string
		cfg   func(*Config)
		setup func(*Room)
		sends []send
	}{
		{name: "plain", sends: []send{{at: 0, from: "a", text: "hello"}, {at: 0, from: "b", text: " padded "}}},
		{name: "bad text", sends: []send{
			{at: 0, from: "a", text: "", err: ErrInvalid},
			{at: 0, from: "a", text: "   ", err: ErrInvalid},
			{at: 0, from: "a", text: strings.Repeat("x", 501), err: ErrInvalid},
			{at: 0, from: "a", text: "\xff\xfe", err: ErrInvalid},
			{at: 0, from: "", text: "who?", err: ErrInvalid},
		}},
		{name: "burst then rate", cfg: func(c *Config) { c.Burst, c.Rate = 3, 1 }, sends: []send{
			{at: 0, from: "a", text: "1"}, {at: 0, from: "a", text: "2"}, {at: 0, from: "a", text: "3"},
			{at: 0, from: "a", text: "4", err: ErrRateLimited},
			{at: 0, from: "b", text: "others unaffected"},
			{at: 0.5, from: "a", text: "5", err: ErrRateLimited},
			{at: 1.01, from: "a", text: "6"},
			{at: 1.02, from: "host", admin: true, text: "admins are not limited"},
		}},
		{name: "slow mode", setup: func(r *Room) { _ = r.SetSlowMode(10 * time.Second) }, sends: []send{
			{at: 0, from: "a", text: "1"},
			{at: 9.9, from: "a", text: "2", err: ErrSlowMode},
			{at: 10, from: "a", text: "3"},
			{at: 10, from: "b", text: "b's first"},
			{at: 11, from: "host", admin: true, text: "h1"},
			{at: 11.5, from: "host", admin: true, text: "h2"},
		}},
		{name: "mute and ban", setup: func(r *Room) {
			_ = r.Mute(t0, "m", sec(30))
			_, _ = r.Ban(t0, "x")
		}, sends: []send{
			{at: 1, from: "m", text: "hi", err: ErrMuted},
			{at: 30, from: "m", text: "back"},
			{at: 1, from: "x", text: "hi", err: ErrBanned},
			{at: 1000, from: "x", text: "still", err: ErrBanned},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			r := New(cfg)
			if tt.setup != nil {
				tt.setup(r)
			}
			for i, s := range tt.sends {
				m, err := r.Send(sec(s.at), s.from, "", s.admin, s.text, 42)
				if !errors.Is(err, s.err) {
					t.Fatalf("send %d: err = %v, want %v", i, err, s.err)
				}
				if err == nil && (m.Text != strings.TrimSpace(s.text) || m.From != s.from || m.MediaTime != 42 || m.ID == "") {
					t.Fatalf("send %d: %+v", i, m)
				}
			}
		})
	}
}

func TestHistoryDeletePin(t *testing.T) {
	cfg := DefaultConfig()
	cfg.History, cfg.Burst = 3, 100
	r := New(cfg)
	for _, s := range []string{"1", "2", "3", "4"} {
		if _, err := r.Send(t0, "a", "", false, s, 0); err != nil {
			t.Fatal(err)
		}
	}
	h, _ := r.History()
	if len(h) != 3 || h[0].Text != "2" || h[2].ID != "m4" {
		t.Fatalf("history %+v, want the last 3", h)
	}
	if _, err := r.Pin("m1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pinning a message out of history: %v", err)
	}
	if _, err := r.Pin("m3"); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete("b", false, "m3"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("deleting someone else's message: %v", err)
	}
	if err := r.Delete("a", false, "m3"); err != nil {
		t.Fatal(err)
	}
	if h, p := r.History(); len(h) != 2 || p != nil {
		t.Fatalf("after delete: %+v pinned %+v", h, p)
	}
	if err := r.Delete("host", true, "m2"); err != nil {
		t.Fatalf("a moderator deletes anything: %v", err)
	}
	if err := r.Delete("host", true, "m2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
}

func TestBanRemovesHistory(t *testing.T) {
	r := New(DefaultConfig())
	_, _ = r.Send(t0, "spam", "", false, "buy", 0)
	_, _ = r.Send(t0, "a", "", false, "hi", 0)
	_, _ = r.Pin("m1")
	gone, _ := r.Ban(t0, "spam")
	h, p := r.History()
	if len(gone) != 1 || gone[0] != "m1" || len(h) != 1 || p != nil || !r.Banned("spam") {
		t.Fatalf("gone %v history %+v pinned %+v", gone, h, p)
	}
}

func TestSlowModeBounds(t *testing.T) {
	r := New(DefaultConfig())
	for d, ok := range map[time.Duration]bool{0: true, time.Second: true, MaxSlowMode: true, -1: false, MaxSlowMode + 1: false} {
		if err := r.SetSlowMode(d); (err == nil) != ok {
			t.Errorf("slow mode %v: %v", d, err)
		}
	}
}

func TestRestoreContinuesNumbering(t *testing.T) {
	r := New(DefaultConfig())
	r.Restore([]Message{{ID: "m7", From: "a", Text: "x"}, {ID: "m9", From: "b", Text: "y"}})
	m, _ := r.Send(t0, "c", "", false, "z", 0)
	if m.ID != "m10" {
		t.Fatalf("id %s after restore, want m10", m.ID)
	}
}

func TestSendersBounded(t *testing.T) {
	r := New(DefaultConfig())
	for i := 0; i < maxSenders+10; i++ {
		_, _ = r.Send(sec(float64(i)), "u"+strings.Repeat("x", i%7)+string(rune(i)), "", false, "hi", 0)
	}
	if len(r.senders) > maxSenders {
		t.Fatalf("%d senders remembered", len(r.senders))
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{{MaxLen: 0, History: 1, Rate: 1, Burst: 1}, {MaxLen: 1, History: -1, Rate: 1, Burst: 1},
		{MaxLen: 1, History: 1, Rate: 0, Burst: 1}, {MaxLen: 1, History: 1, Rate: 1, Burst: 0}} {
		if c.Validate() == nil {
			t.Errorf("%+v should not validate", c)
		}
	}
}

func TestIDPrefixAndAdd(t *testing.T) {
	a, b := New(DefaultConfig()), New(DefaultConfig())
	a.SetIDPrefix("mA.")
	b.SetIDPrefix("mB.")
	ma, _ := a.Send(t0, "x", "", false, "from a", 0)
	mb, _ := b.Send(t0, "y", "", false, "from b", 0)
	if ma.ID == mb.ID {
		t.Fatalf("ids collide: %s", ma.ID)
	}
	a.Add(mb)
	a.Add(mb) // twice: once
	if h, _ := a.History(); len(h) != 2 || h[1].ID != mb.ID {
		t.Fatalf("history %+v", h)
	}
	if err := a.Delete("y", false, mb.ID); err != nil {
		t.Fatalf("deleting a message added from another node: %v", err)
	}
}
