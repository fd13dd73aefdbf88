package sfu_test

import (
	"testing"
	"time"

	"github.com/glintlive/glint/sfu"
)

// TestAwaitRoom: a wait ends when the room opens, at once for a room already open, and
// for everyone when the SFU closes; a wait that stops leaves nothing behind for the name.
func TestAwaitRoom(t *testing.T) {
	s := newTestSFU(t)
	opened, stop := s.AwaitRoom("show")
	defer stop()
	again, stopAgain := s.AwaitRoom("show")
	stopAgain() // one waiter leaving does not end the other's wait
	if isClosed(opened) || isClosed(again) {
		t.Fatal("the wait ended before the room opened")
	}
	room, err := s.Join("show", sfu.RolePublisher)
	if err != nil {
		t.Fatal(err)
	}
	defer room.Leave(sfu.RolePublisher)
	waitClosed(t, opened, "the room opened")
	now, stopNow := s.AwaitRoom("show")
	defer stopNow()
	waitClosed(t, now, "the room was already open")

	_, stopGone := s.AwaitRoom("gone")
	stopGone()
	stopGone() // stopping twice is harmless
	if n := sfu.AwaitedRooms(s); n != 0 {
		t.Errorf("%d room names still awaited after every wait ended", n)
	}

	later, stopLater := s.AwaitRoom("later")
	defer stopLater()
	_ = s.Close()
	waitClosed(t, later, "the SFU closed")
	after, stopAfter := s.AwaitRoom("after")
	defer stopAfter()
	waitClosed(t, after, "the SFU had closed")
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func waitClosed(t *testing.T, c <-chan struct{}, when string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("the wait did not end when %s", when)
	}
}
