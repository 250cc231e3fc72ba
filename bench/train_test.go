package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/interact"
)

// synthFile writes a seeded synthetic event file and returns its path.
func synthFile(t testing.TB, cfg synth.Config) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Generate(t.Context(), cfg, synth.Output{Events: f}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadEvents(t *testing.T) {
	path := synthFile(t, synth.Config{Customers: 200, Items: 100, Events: 5000, Seed: 1})
	ev, err := ReadEvents(t.Context(), path, "", interact.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := ev.Matrix
	if ev.Rows.Rows != 5000 || ev.Rows.Valid != 5000 {
		t.Errorf("ReadEvents rows = %+v, want 5000 valid", ev.Rows)
	}
	// Store visits carry no item; every customer with an item event is a row.
	if m.Users() < 150 || m.Users() > 200 || m.Items() < 50 || m.Items() > 100 || m.Len() == 0 {
		t.Errorf("matrix %d × %d with %d pairs, want about 200 × 100", m.Users(), m.Items(), m.Len())
	}
	if _, err := ReadEvents(t.Context(), filepath.Join(t.TempDir(), "missing"), "", interact.Config{}, nil); err == nil {
		t.Errorf("ReadEvents(missing file) = nil error")
	}
	empty := filepath.Join(t.TempDir(), "empty.csv")
	os.WriteFile(empty, []byte("customer,item,type,time\n"), 0o600)
	if _, err := ReadEvents(t.Context(), empty, eventfile.CSV, interact.Config{}, nil); err == nil || !strings.Contains(err.Error(), "no usable events") {
		t.Errorf("ReadEvents(empty) error = %v, want no usable events", err)
	}
}

func TestTrain(t *testing.T) {
	path := synthFile(t, synth.Config{Customers: 400, Items: 150, Events: 20000, Seed: 2})
	ev, err := ReadEvents(t.Context(), path, eventfile.Discret, interact.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines int
	rep, err := Train(t.Context(), TrainConfig{
		Events: ev, Factors: []int{4, 8}, Threads: []int{1, 2}, Epsilons: []float64{math.Inf(1), 1},
		Iterations: 2, Runs: 2, Log: func(string) { lines++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 8 {
		t.Fatalf("Train(2 factors × 2 threads × 2 ε) = %d results, want 8", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Iterations != 2 || len(r.Totals) != 2 || r.Total <= 0 || r.Iteration <= 0 || r.Iteration > r.Total {
			t.Errorf("result %+v: want 2 iterations, 2 runs, 0 < s/iteration ≤ total", r)
		}
		if r.HeapPeak < r.HeapBase || r.HeapPeak == 0 {
			t.Errorf("heap base %d, peak %d: want 0 < base ≤ peak", r.HeapBase, r.HeapPeak)
		}
		if private := !math.IsInf(r.Epsilon, 1); private != (r.Delta > 0) {
			t.Errorf("ε %v with δ %v", r.Epsilon, r.Delta)
		}
	}
	// Two lines per run (2 iterations) and one at its end.
	if want := 8 * 2 * 3; lines != want {
		t.Errorf("Log called %d times, want %d", lines, want)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rows); err != nil || len(rows) != 8 {
		t.Fatalf("WriteJSON = %d rows, %v; want 8", len(rows), err)
	}
	if rows[0]["epsilon"] != nil || rows[1]["epsilon"] != 1.0 {
		t.Errorf("JSON epsilon = %v, %v; want null, 1", rows[0]["epsilon"], rows[1]["epsilon"])
	}
	if rows[0]["dataset"] != "events" || rows[0]["path"] != path {
		t.Errorf("JSON dataset, path = %v, %v; want events (DatasetName), %s", rows[0]["dataset"], rows[0]["path"], path)
	}
	for _, k := range []string{"total_s", "iteration_s", "setup_s", "heap_peak_mib", "process_peak_mib", "factors", "threads"} {
		if _, ok := rows[0][k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	buf.Reset()
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "s/iteration") || !strings.HasPrefix(buf.String(), "events ("+path+")") || strings.Count(buf.String(), "\n") < 10 {
		t.Errorf("WriteTable:\n%s", buf.String())
	}

	// The ALS and privacy settings reach every run (as --config's do).
	rep, err = Train(t.Context(), TrainConfig{
		Events: ev, Factors: []int{4}, Threads: []int{1}, Epsilons: []float64{1},
		ALS: als.Config{Iterations: 3, Lambda: 0.2}, Privacy: als.Privacy{Delta: 1e-5},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Iterations != 3 || r.Delta != 1e-5 {
		t.Errorf("Train(ALS.Iterations 3, Privacy.Delta 1e-5) = %d iterations, δ %v", r.Iterations, r.Delta)
	}
}

func TestTrainValidate(t *testing.T) {
	ev := &Events{}
	for _, tc := range []struct {
		cfg  TrainConfig
		want string
	}{
		{TrainConfig{}, "no training data"},
		{TrainConfig{Events: ev, Factors: []int{0}}, "factors 0"},
		{TrainConfig{Events: ev, Threads: []int{-1}}, "threads -1"},
		{TrainConfig{Events: ev, Epsilons: []float64{0}}, "epsilon 0"},
		{TrainConfig{Events: ev, Runs: -1}, "runs -1"},
		{TrainConfig{Events: ev, Factors: []int{16, 32, 16}}, "factors 16 repeated"},
		{TrainConfig{Events: ev, Threads: []int{1, 1}}, "threads 1 repeated"},
		{TrainConfig{Events: ev, Epsilons: []float64{1, math.Inf(1), 1}}, "epsilon 1 repeated"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}
