package transcode

import (
	"reflect"
	"testing"
)

func TestSelectRungs(t *testing.T) {
	three := DefaultLadder
	for _, tc := range []struct {
		name       string
		ladder     []Rendition
		srcW, srcH int
		want       []rung
	}{
		{"1080p source keeps all three", three, 1920, 1080, []rung{
			{Rendition{"f", 1080, 4_500_000}, 1920}, {Rendition{"h", 720, 2_500_000}, 1280}, {Rendition{"q", 480, 1_000_000}, 854}}},
		{"720p source: no upscale to 1080", three, 1280, 720, []rung{
			{Rendition{"h", 720, 2_500_000}, 1280}, {Rendition{"q", 480, 1_000_000}, 854}}},
		{"4K source keeps all three", three, 3840, 2160, []rung{
			{Rendition{"f", 1080, 4_500_000}, 1920}, {Rendition{"h", 720, 2_500_000}, 1280}, {Rendition{"q", 480, 1_000_000}, 854}}},
		{"odd source height rounds down to even", three, 1281, 721, []rung{
			{Rendition{"h", 720, 2_500_000}, 1280}, {Rendition{"q", 480, 1_000_000}, 854}}},
		{"below every rung: one at the source height, bitrate by area", three, 640, 360, []rung{
			{Rendition{"q", 360, 562_500}, 640}}},
		{"tiny odd source", three, 175, 99, []rung{
			{Rendition{"q", 98, 150_000}, 174}}},
		{"portrait phone", three, 720, 1280, []rung{
			{Rendition{"f", 1080, 4_500_000}, 608}, {Rendition{"h", 720, 2_500_000}, 406}, {Rendition{"q", 480, 1_000_000}, 270}}},
		{"odd configured height rounds to even", []Rendition{{"h", 721, 2_000_000}}, 1920, 1080, []rung{
			{Rendition{"h", 720, 2_000_000}, 1280}}},
		{"unordered ladder comes out tallest first", []Rendition{{"q", 360, 800_000}, {"f", 720, 3_000_000}}, 1280, 720, []rung{
			{Rendition{"f", 720, 3_000_000}, 1280}, {Rendition{"q", 360, 800_000}, 640}}},
		{"4:3 source", []Rendition{{"q", 480, 1_000_000}}, 1024, 768, []rung{
			{Rendition{"q", 480, 1_000_000}, 640}}},
		{"unknown size", three, 0, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := selectRungs(tc.ladder, tc.srcW, tc.srcH)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("selectRungs(%dx%d) = %+v, want %+v", tc.srcW, tc.srcH, got, tc.want)
			}
			for _, r := range got {
				if r.Width%2 != 0 || r.Height%2 != 0 || r.Height > tc.srcH {
					t.Errorf("rung %+v: odd, or taller than the source", r)
				}
			}
		})
	}
}

func TestLevelFor(t *testing.T) {
	for _, tc := range []struct {
		w, h int
		fps  float64
		want string
	}{
		{640, 360, 30, "3.0"},
		{854, 480, 30, "3.1"},
		{1280, 720, 30, "3.1"},
		{1280, 720, 60, "3.2"},
		{1920, 1080, 30, "4.0"},
		{1920, 1080, 60, "4.2"},
		{3840, 2160, 30, "5.1"},
		{7680, 4320, 30, "5.2"},
	} {
		if got := levelFor(tc.w, tc.h, tc.fps); got != tc.want {
			t.Errorf("levelFor(%dx%d@%v) = %s, want %s", tc.w, tc.h, tc.fps, got, tc.want)
		}
	}
}

func TestOfferedProfile(t *testing.T) {
	for in, want := range map[string]string{
		"42c01e": "42e01e", // x264 constrained baseline
		"42e01f": "42e01f", // a browser's
		"42001f": "42001f", // baseline without constraint_set1
		"4d4028": "4d0028",
		"640028": "640028",
		"f4001f": "f4001f", // High 4:4:4: left for the SFU to refuse
		"6e001f": "6e001f",
		"zz":     "zz",
	} {
		if got := offeredProfile(in); got != want {
			t.Errorf("offeredProfile(%s) = %s, want %s", in, got, want)
		}
	}
	if wantPassthrough(Config{Passthrough: PassthroughAuto}, Source{HasVideo: true, ProfileLevelID: "f4001f"}) {
		t.Error("High 4:4:4 would be passed through: no browser decodes it")
	}
	if !wantPassthrough(Config{Passthrough: PassthroughAuto}, Source{HasVideo: true, ProfileLevelID: "42c01f"}) {
		t.Error("constrained baseline was not passed through")
	}
	if wantPassthrough(Config{Passthrough: PassthroughNever}, Source{HasVideo: true, ProfileLevelID: "42c01f"}) {
		t.Error("passthrough despite PassthroughNever")
	}
	if wantPassthrough(Config{Passthrough: PassthroughAuto}, Source{HasVideo: true, ProfileLevelID: "640028", BFrames: true}) {
		t.Error("a source with B-frames would be passed through")
	}
}
