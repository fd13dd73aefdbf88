package transcode

import "sort"

// rung is a Rendition fitted to one source: the size ffmpeg scales to.
type rung struct {
	Rendition
	Width int
}

// minRungBitrate floors the bitrate of a rung shrunk to a small source.
const minRungBitrate = 150_000

// selectRungs fits the ladder to a srcW×srcH source, tallest first. Rungs taller than the
// source are dropped: upscaling spends bits and CPU on detail that is not there. If none
// fits, the shortest rung remains at the source's height, its bitrate scaled down by pixel
// count. Sizes are even (x264 with 4:2:0 chroma needs it); the width keeps the aspect ratio.
func selectRungs(ladder []Rendition, srcW, srcH int) []rung {
	if srcW <= 0 || srcH <= 0 || len(ladder) == 0 {
		return nil
	}
	maxH := srcH &^ 1 // round down: never taller than the source
	var out []rung
	for _, r := range ladder {
		h := r.Height &^ 1
		if h <= maxH && h > 0 {
			r.Height = h
			out = append(out, rung{Rendition: r, Width: scaledWidth(srcW, srcH, h)})
		}
	}
	if len(out) == 0 {
		low := ladder[0]
		for _, r := range ladder[1:] {
			if r.Height < low.Height {
				low = r
			}
		}
		bitrate := int(int64(low.Bitrate) * int64(maxH) * int64(maxH) / (int64(low.Height) * int64(low.Height)))
		low.Height, low.Bitrate = maxH, max(bitrate, minRungBitrate)
		out = append(out, rung{Rendition: low, Width: scaledWidth(srcW, srcH, maxH)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Height > out[j].Height })
	return out
}

// scaledWidth keeps srcW:srcH at height h, rounded to the nearest even number, at least 2.
func scaledWidth(srcW, srcH, h int) int {
	w := (int64(srcW)*int64(h) + int64(srcH)/2) / int64(srcH) // nearest integer
	w = (w + 1) &^ 1                                          // nearest even, rounding .5 up
	return int(max(w, 2))
}
