package train

import "testing"

func TestDefaultDelta(t *testing.T) {
	for _, tt := range []struct {
		n    float64
		want float64
	}{
		{0.3, 1e-6}, {50, 1e-6}, {100_000, 1e-6}, {100_001, 1e-7}, {999_999, 1e-7}, {1_000_001, 1e-8}, {2e6, 1e-8}, {1.5e8, 1e-10},
	} {
		if got, err := defaultDelta(tt.n); err != nil || got != tt.want {
			t.Errorf("defaultDelta(%v) = %v, %v; want %v", tt.n, got, err, tt.want)
		}
	}
}

func TestRoundSignificant(t *testing.T) {
	for _, tt := range []struct {
		x    float64
		want int64
	}{{-3, 0}, {0, 0}, {0.4, 0}, {7.6, 8}, {56.2, 56}, {99.6, 100}, {1234, 1200}, {1250.1, 1300}, {987_654, 990_000}} {
		if got := roundSignificant(tt.x); got != tt.want {
			t.Errorf("roundSignificant(%v) = %d, want %d", tt.x, got, tt.want)
		}
	}
}
