//go:build !race

package msrp

const raceEnabled = false
