package interact

import (
	"math"
	"slices"
	"testing"

	"github.com/discret-io/discret/privacy"
)

type ev struct {
	user, item int
	kind       privacy.EventKind
	qty        uint32
}

func TestBuilder(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		events   []ev
		user     int
		items    []int32
		strength []float64
		conf     []float64
	}{
		{
			name:     "defaults",
			events:   []ev{{0, 2, privacy.Purchase, 1}, {0, 1, privacy.View, 1}, {0, 2, privacy.AddToCart, 1}, {0, 1, privacy.View, 3}},
			items:    []int32{1, 2},
			strength: []float64{0.4, 1.5}, // 0.1·1 + 0.1·3 ; 1.0 + 0.5
			conf:     []float64{1.4, 2.5}, // 1 + 1·w̄
		},
		{
			name:     "cap",
			cfg:      Config{Cap: 2, Alpha: 0.5},
			events:   []ev{{0, 0, privacy.Purchase, 7}, {0, 3, privacy.AddToCart, 2}},
			items:    []int32{0, 3},
			strength: []float64{2, 1},
			conf:     []float64{2, 1.5},
		},
		{
			name:     "binary",
			cfg:      Config{Binary: true},
			events:   []ev{{1, 0, privacy.Purchase, 7}, {1, 3, privacy.View, 1}},
			user:     1,
			items:    []int32{0, 3},
			strength: []float64{7, 0.1},
			conf:     []float64{1, 1},
		},
		{
			name:     "zero weights and store visits are not stored",
			cfg:      Config{Weights: map[privacy.EventKind]float64{privacy.Purchase: 2}},
			events:   []ev{{0, 1, privacy.View, 1}, {0, 2, privacy.StoreVisit, 1}, {0, 3, privacy.Purchase, 0}},
			items:    []int32{3},
			strength: []float64{2}, // quantity 0 counts as 1
			conf:     []float64{3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBuilder(tt.cfg, 2, 4)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tt.events {
				if err := b.Add(e.user, e.item, e.kind, e.qty); err != nil {
					t.Fatal(err)
				}
			}
			m := b.Matrix()
			items, conf := m.Row(tt.user)
			if !slices.Equal(items, tt.items) {
				t.Errorf("Row(%d) items = %v, want %v", tt.user, items, tt.items)
			}
			if !approx(conf, tt.conf) {
				t.Errorf("Row(%d) conf = %v, want %v", tt.user, conf, tt.conf)
			}
			if s := m.Strength(tt.user); !approx(s, tt.strength) {
				t.Errorf("Strength(%d) = %v, want %v", tt.user, s, tt.strength)
			}
			if m.Users() != 2 || m.Items() != 4 || m.Len() != len(tt.items) {
				t.Errorf("shape = %d×%d with %d pairs, want 2×4 with %d", m.Users(), m.Items(), m.Len(), len(tt.items))
			}
		})
	}
}

func approx(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			return false
		}
	}
	return true
}

func TestBuilderErrors(t *testing.T) {
	b, err := NewBuilder(Config{}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, item int
		kind       privacy.EventKind
	}{
		{-1, 0, privacy.View}, {2, 0, privacy.View}, {0, 3, privacy.View}, {0, -1, privacy.View}, {0, 0, 0}, {0, 0, 99},
	}
	for _, tt := range tests {
		if err := b.Add(tt.user, tt.item, tt.kind, 1); err == nil {
			t.Errorf("Add(%d, %d, %d) = nil, want an error", tt.user, tt.item, tt.kind)
		}
	}
	if m := b.Matrix(); m.Len() != 0 {
		t.Errorf("Matrix().Len() after rejected events = %d, want 0", m.Len())
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		errs int
	}{
		{"zero", Config{}, 0},
		{"negative weight", Config{Weights: map[privacy.EventKind]float64{privacy.View: -1}}, 1},
		{"NaN weight and unknown kind", Config{Weights: map[privacy.EventKind]float64{9: math.NaN()}}, 2},
		{"negative cap and alpha", Config{Cap: -1, Alpha: -2}, 2},
		{"infinite alpha", Config{Alpha: math.Inf(1)}, 1},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		n := 0
		if err != nil {
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				n = len(j.Unwrap())
			} else {
				n = 1
			}
		}
		if n != tt.errs {
			t.Errorf("Validate(%s) = %v (%d errors), want %d errors", tt.name, err, n, tt.errs)
		}
		if _, err := NewBuilder(tt.cfg, 1, 1); (err != nil) != (tt.errs > 0) {
			t.Errorf("NewBuilder(%s) error = %v, want error %v", tt.name, err, tt.errs > 0)
		}
	}
}

func TestFromRows(t *testing.T) {
	m, err := FromRows(5, [][]int32{{3, 1, 3}, nil, {4}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int32{{1, 3}, {}, {4}}
	for u, w := range want {
		items, conf := m.Row(u)
		if !slices.Equal(items, w) {
			t.Errorf("Row(%d) = %v, want %v", u, items, w)
		}
		for _, c := range conf {
			if c != 1 {
				t.Errorf("Row(%d) conf = %v, want all 1", u, conf)
			}
		}
	}
	if _, err := FromRows(2, [][]int32{{2}}); err == nil {
		t.Error("FromRows(item out of range) = nil error, want an error")
	}
	if _, err := FromRows(2, [][]int32{{-1}}); err == nil {
		t.Error("FromRows(negative item) = nil error, want an error")
	}
}
