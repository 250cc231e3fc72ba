package dp

import (
	"math"
	"testing"
)

// References: mpmath 1.3 at 40 digits (log(ncdf(x)); findroot of
// log(ncdf(−z)) = log(q)).
func TestLogNormCDF(t *testing.T) {
	tests := []struct{ x, want float64 }{
		{-1, -1.8410216450092635058},
		{-10, -53.231285150512470578},
		{-36.9, -685.33288316535066463},
		{-37.5, -707.66898931750719107},
		{-40, -804.60844201375378817},
		{-100, -5005.5242086942050886},
		{-1000, -500007.82669481218431},
	}
	for _, tt := range tests {
		if got := logNormCDF(tt.x); math.Abs(got-tt.want) > 1e-13*math.Abs(tt.want) {
			t.Errorf("logNormCDF(%v) = %.17g, want %.17g", tt.x, got, tt.want)
		}
	}
}

func TestNormQuantileUpper(t *testing.T) {
	tests := []struct{ q, want float64 }{
		{0.3, 0.52440051270804078404},
		{0.7, -0.52440051270804078404},
		{1e-3, 3.0902323061678135415},
		{0.022750131948, 2.0000000000033192071},
		{1e-10, 6.3613409024040562047},
		{1e-100, 21.273453560965324295},
		{1e-300, 37.047096299361199237},
	}
	for _, tt := range tests {
		if got := normQuantileUpper(tt.q); math.Abs(got-tt.want) > 1e-13*math.Abs(tt.want) {
			t.Errorf("normQuantileUpper(%v) = %.17g, want %.17g", tt.q, got, tt.want)
		}
	}
	if !math.IsInf(normQuantileUpper(0), 1) || !math.IsInf(normQuantileUpper(1), -1) {
		t.Error("normQuantileUpper at 0 and 1 should be ±Inf")
	}
}
