package bus

import (
	"context"
	"maps"
	"slices"
	"testing"
)

// TestDirectoryList: List returns every live entry by name, an empty directory nothing;
// the room and node directories are separate buckets; a deleted entry is not listed.
func TestDirectoryList(t *testing.T) {
	b := openTest(t, t.TempDir(), nil)
	ctx := context.Background()
	nodes, err := b.NodeDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rooms, err := b.Directory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := nodes.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty directory: %v, %v", got, err)
	}
	for _, name := range []string{"vm-1", "vm-2.example/with odd*chars"} {
		if err := nodes.Put(ctx, name, []byte("url of "+name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := rooms.Put(ctx, "show", []byte("origin")); err != nil {
		t.Fatal(err)
	}
	got, err := nodes.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, []string{"vm-1", "vm-2.example/with odd*chars"}) || string(got["vm-1"]) != "url of vm-1" {
		t.Fatalf("listed %q", got)
	}
	_, rev, _, err := nodes.Get(ctx, "vm-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes.Delete(ctx, "vm-1", rev); err != nil {
		t.Fatal(err)
	}
	if got, err := nodes.List(ctx); err != nil || len(got) != 1 {
		t.Fatalf("after a delete: %q, %v", got, err)
	}
}

// TestDirectorySubs: entries under a room's entry are listed by their sub-name, apart
// from another room's and from the room's own entry, and go when deleted.
func TestDirectorySubs(t *testing.T) {
	b := openTest(t, t.TempDir(), nil)
	ctx := context.Background()
	rooms, err := b.Directory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rooms.ListSubs(ctx, "show"); err != nil || len(got) != 0 {
		t.Fatalf("no subs yet: %q, %v", got, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rooms.Put(ctx, "show", []byte("origin")))
	must(rooms.PutSub(ctx, "show", "node-b", []byte("b")))
	must(rooms.PutSub(ctx, "show", "node c/odd", []byte("c")))
	must(rooms.PutSub(ctx, "show2", "node-b", []byte("other room")))
	got, err := rooms.ListSubs(ctx, "show")
	if err != nil || len(got) != 2 || string(got["node-b"]) != "b" || string(got["node c/odd"]) != "c" {
		t.Fatalf("subs of show: %q, %v", got, err)
	}
	if v, _, ok, err := rooms.Get(ctx, "show"); err != nil || !ok || string(v) != "origin" {
		t.Fatalf("the room's own entry: %q %v %v", v, ok, err)
	}
	must(rooms.DeleteSub(ctx, "show", "node-b"))
	if got, err := rooms.ListSubs(ctx, "show"); err != nil || len(got) != 1 {
		t.Fatalf("after a delete: %q, %v", got, err)
	}
}
