package sfu_test

import (
	"testing"
	"time"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// TestSourceAudioFollowsTheHost: a room forwards the source audio of its current host
// session only: not a session that is not the host, not a replaced one's last units, and
// nothing once the host is cleared; readers added before a host keep reading the next one.
func TestSourceAudioFollowsTheHost(t *testing.T) {
	s := newTestSFU(t)
	room, err := s.Join("source", sfu.RolePublisher)
	if err != nil {
		t.Fatal(err)
	}
	rd := &sfutest.SourceAudioLog{}
	room.AddSourceAudioReader(rd)
	first, err := s.NewIngestPeer(sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	if room.SetSourceAudio(first, []byte{0x12, 0x10}, 44100) != nil {
		t.Fatal("a session that is not the host offered source audio")
	}
	room.SetPublisher(first)
	a := room.SetSourceAudio(first, []byte{0x12, 0x10}, 44100)
	if a == nil || room.SourceAudio() != a || a.Rate != 44100 {
		t.Fatalf("the host's source audio is not the room's: %+v", room.SourceAudio())
	}
	a.Write(0, time.Now(), []byte("one"))

	second, err := s.NewIngestPeer(sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	room.SetPublisher(second) // replaces first, which offered audio; second offers none yet
	if room.SourceAudio() != nil {
		t.Fatal("a replaced session's source audio is still the room's")
	}
	a.Write(1024, time.Now(), []byte("late")) // the replaced session's last unit
	b := room.SetSourceAudio(second, []byte{0x11, 0x90}, 48000)
	b.Write(0, time.Now(), []byte("two"))
	room.ClearPublisher(second)
	if room.SourceAudio() != nil {
		t.Fatal("a cleared host's source audio is still the room's")
	}
	b.Write(1024, time.Now(), []byte("after"))
	room.RemoveSourceAudioReader(rd)
	if got := rd.Units(); len(got) != 2 || got[0].Unit != "one" || got[1].Unit != "two" {
		t.Fatalf("the reader got %+v; want the current host's units only: one, two", got)
	}
	second.Close()
	room.Leave(sfu.RolePublisher)
}
