package dptest_test

import (
	"errors"
	"testing"

	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/dp/dptest"
)

func TestNewDeterministic(t *testing.T) {
	a, b, c := dptest.New(1), dptest.New(1), dptest.New(2)
	differ := false
	for range 100 {
		x, y, z := a.Uint64(), b.Uint64(), c.Uint64()
		if x != y {
			t.Fatal("same seed, different streams")
		}
		differ = differ || x != z
	}
	if !differ {
		t.Error("seeds 1 and 2 give the same stream")
	}
	fa, fb := dptest.New(5).Fork(), dptest.New(5).Fork()
	if fa.Uint64() != fb.Uint64() {
		t.Error("forks of equal seeds differ")
	}
	p := dptest.New(5)
	if p.Fork().Uint64() == p.Fork().Uint64() {
		t.Error("two forks of one parent coincide")
	}
}

func TestRefusedInProduction(t *testing.T) {
	for _, src := range []dp.Source{dptest.New(1), dptest.New(1).Fork(), &dptest.Words{W: []uint64{1}}} {
		if err := dp.CheckProduction(src); !errors.Is(err, dp.ErrTestSource) {
			t.Errorf("CheckProduction(%T) = %v, want ErrTestSource", src, err)
		}
	}
	if dptest.New(1).Kind() != dp.KindTestSeeded {
		t.Error("dptest.Rand.Kind() is not test-seeded")
	}
}

func TestWords(t *testing.T) {
	w := &dptest.Words{W: []uint64{3, 4}}
	if w.Uint64() != 3 || w.Uint64() != 4 || w.Used() != 2 {
		t.Fatal("Words did not replay its sequence")
	}
	defer func() {
		if recover() == nil {
			t.Error("exhausted Words did not panic")
		}
	}()
	w.Uint64()
}
