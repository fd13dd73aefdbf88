//go:build race

package transcode

func init() { raceEnabled = true }
