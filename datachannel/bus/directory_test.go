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
