package dp_test

import (
	"errors"
	"testing"

	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/dp/dptest"
)

// liar claims to be crypto-seeded but is a fixed sequence.
type liar struct{ dptest.Words }

func (liar) Kind() dp.Kind { return dp.KindCrypto }

// TestProductionRefusesTestSources is D5 (vi): production code refuses a
// fixed seed, whatever the source says about itself, and accepts only a
// crypto-seeded Rand.
func TestProductionRefusesTestSources(t *testing.T) {
	tests := []struct {
		name string
		src  dp.Source
		want dp.Kind
	}{
		{"dptest.New", dptest.New(1), dp.KindTestSeeded},
		{"dptest fork", dptest.New(1).Fork(), dp.KindTestSeeded},
		{"replayed words", &dptest.Words{W: []uint64{1, 2, 3}}, dp.KindTestSeeded},
		{"source claiming crypto", &liar{}, dp.KindTestSeeded},
		{"zero Rand", &dp.Rand{}, dp.KindTestSeeded},
		{"nil Rand", (*dp.Rand)(nil), dp.KindTestSeeded},
		{"nil", nil, dp.KindTestSeeded},
	}
	for _, tt := range tests {
		if got := dp.KindOf(tt.src); got != tt.want {
			t.Errorf("KindOf(%s) = %q, want %q", tt.name, got, tt.want)
		}
		if err := dp.CheckProduction(tt.src); !errors.Is(err, dp.ErrTestSource) {
			t.Errorf("CheckProduction(%s) = %v, want ErrTestSource", tt.name, err)
		}
	}
	r := dp.NewRand()
	if err := dp.CheckProduction(r); err != nil || r.Kind() != dp.KindCrypto || !r.Kind().Production() {
		t.Errorf("NewRand: CheckProduction = %v, Kind = %q", err, r.Kind())
	}
	if err := dp.CheckProduction(r.Fork()); err != nil {
		t.Errorf("CheckProduction(NewRand().Fork()) = %v", err)
	}
	if dp.KindTestSeeded.Production() || dptest.New(1).Kind() != dp.KindTestSeeded {
		t.Error("test-seeded kind reported as production")
	}
}

func TestRandStreams(t *testing.T) {
	a, b := dp.NewRand(), dp.NewRand()
	if a.Uint64() == b.Uint64() && a.Uint64() == b.Uint64() {
		t.Error("two NewRand streams start alike")
	}
	s, err := dp.Streams(a, 3)
	if err != nil || len(s) != 3 {
		t.Fatalf("Streams(NewRand(), 3) = %d streams, %v", len(s), err)
	}
	for _, x := range s {
		if dp.KindOf(x) != dp.KindCrypto {
			t.Errorf("a stream of a crypto Rand has kind %q", dp.KindOf(x))
		}
	}
	if _, err := dp.Streams(&dptest.Words{}, 2); err == nil {
		t.Error("Streams on a source without Fork succeeded")
	}
	if _, err := dp.Streams(a, -1); err == nil {
		t.Error("Streams(-1) succeeded")
	}
	// Test-seeded streams are reproducible.
	x, _ := dp.Streams(dptest.New(9), 2)
	y, _ := dp.Streams(dptest.New(9), 2)
	for i := range x {
		if x[i].Uint64() != y[i].Uint64() {
			t.Errorf("stream %d of seed 9 differs between runs", i)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Uint64 on a zero Rand did not panic")
		}
	}()
	var zero dp.Rand
	zero.Uint64()
}
