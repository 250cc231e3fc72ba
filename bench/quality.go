package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/eventfile"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/eval"
)

// QualityDataset names a dataset of the quality sweep.
type QualityDataset struct {
	Name   string           // label of its rows, e.g. "ml-1m"
	Path   string           // event file, any eventfile format, gzip or not
	Format eventfile.Format // "" detects it
}

// Public datasets of the shared data directory (DISCRET_DATASETS), by
// name. DatasetName recognises their files.
var publicDatasets = map[string]QualityDataset{
	"ml-100k":       {Name: "ml-100k", Path: filepath.Join("ml-100k", "u.data"), Format: eventfile.MovieLens},
	"ml-1m":         {Name: "ml-1m", Path: filepath.Join("ml-1m", "ratings_pairs.csv.gz"), Format: eventfile.MovieLens},
	"online-retail": {Name: "online-retail", Path: filepath.Join("online-retail", "online_retail.csv.gz"), Format: eventfile.OnlineRetail},
}

// PublicDatasets lists the names ResolveDataset knows.
func PublicDatasets() []string {
	names := make([]string, 0, len(publicDatasets))
	for n := range publicDatasets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// DatasetName is the label of a dataset file, the same in every command
// and output. A file in a directory named after a public dataset
// (PublicDatasets), or with the generic name of a public dataset's file
// (u.data, ratings.dat, ratings.csv, ratings_pairs.csv, online_retail.csv,
// gzip or not), which says nothing by itself, is labelled with its
// directory's name: ml-1m/ratings.dat → "ml-1m", toy/u.data → "toy". Any
// other file is labelled with its base name without its data-file
// extensions: /tmp/x/rev-bad.data → "rev-bad", events.jsonl.gz → "events",
// sales.2024.csv → "sales.2024".
func DatasetName(path string) string {
	name := filepath.Base(path)
	for {
		ext := strings.ToLower(filepath.Ext(name))
		if !slices.Contains(dataExtensions, ext) || len(name) == len(ext) {
			break
		}
		name = name[:len(name)-len(ext)]
	}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(path); err == nil {
		dir = filepath.Dir(abs)
	}
	dir = filepath.Base(dir)
	if dir == "." || dir == string(filepath.Separator) {
		return name
	}
	if publicDatasets[dir].Name != "" || slices.Contains(genericFiles, strings.TrimSuffix(filepath.Base(path), ".gz")) {
		return dir
	}
	return name
}

// genericFiles are the names of public datasets' files (without .gz) that
// DatasetName replaces by their directory's name.
var genericFiles = []string{"u.data", "ratings.dat", "ratings.csv", "ratings_pairs.csv", "online_retail.csv"}

// dataExtensions are the file name extensions DatasetName removes.
var dataExtensions = []string{".gz", ".csv", ".tsv", ".txt", ".jsonl", ".json", ".data", ".dat"}

// ResolveDataset turns a command-line dataset argument into a
// QualityDataset: one of PublicDatasets, found under dataDir (the layout of
// DISCRET_DATASETS), or a file path, labelled by DatasetName. format, if
// not empty, overrides the format of a path.
func ResolveDataset(dataDir, arg string, format eventfile.Format) (QualityDataset, error) {
	if d, ok := publicDatasets[arg]; ok {
		if dataDir == "" {
			return QualityDataset{}, fmt.Errorf("bench: dataset %s: set DISCRET_DATASETS (or --datasets) to the directory holding %s", arg, d.Path)
		}
		d.Path = filepath.Join(dataDir, d.Path)
		if _, err := os.Stat(d.Path); err != nil {
			return QualityDataset{}, fmt.Errorf("bench: dataset %s: %w", arg, err)
		}
		return d, nil
	}
	if _, err := os.Stat(arg); err != nil {
		return QualityDataset{}, fmt.Errorf("bench: dataset %q is neither a file nor one of %s: %w", arg, strings.Join(PublicDatasets(), ", "), err)
	}
	return QualityDataset{Name: DatasetName(arg), Path: arg, Format: format}, nil
}

// LoadDataset reads the (user, item) pairs of d for the offline evaluation
// (eval.ReadFile); it returns the bad rows left out.
func LoadDataset(ctx context.Context, d QualityDataset) (*eval.Dataset, eval.BadRows, error) {
	return eval.ReadFile(ctx, d.Path, d.Format)
}

// DefaultQualityEpsilons is the ε sweep of Quality when
// QualityConfig.Epsilons is empty: BENCHMARKS.md's columns.
var DefaultQualityEpsilons = []float64{1, 5, 10, math.Inf(1)}

// QualityConfig configures Quality.
type QualityConfig struct {
	Datasets []QualityDataset // required
	// Epsilons lists the privacy budgets (math.Inf(1): non-private);
	// default DefaultQualityEpsilons.
	Epsilons []float64
	// Seeds is the number of training seeds per (model, ε); default
	// eval.DefaultSeeds.
	Seeds int
	// Factors overrides the ALS dimension when > 0 (default: ALS.Factors,
	// else the als default, 64).
	Factors int
	// ALS holds the hyper-parameters (eval.Config.ALS); the zero value
	// means the als defaults.
	ALS als.Config
	// Privacy holds the private-training settings of the finite-ε runs
	// (eval.Config.Privacy); nil means the als defaults.
	Privacy *als.Privacy
	// Workers bounds the goroutines; 0 means GOMAXPROCS.
	Workers int
	// Log, when non-nil, receives a line per loaded dataset (after lines
	// on its bad rows, eval.BadRows.Lines) and per finished training run.
	Log func(string)
}

// Quality runs the offline evaluation (package model/eval) on every
// dataset over the ε sweep and returns the rows of all datasets, in order.
// Nothing is tuned here: the given settings (by default the package
// defaults) are evaluated, as a user who runs them untuned gets them.
// Datasets must have distinct names: rows and plots are labelled by them.
// On an error (ctx cancelled included), it returns with it the rows of
// the datasets it finished, none of the one it stopped at.
func Quality(ctx context.Context, cfg QualityConfig) ([]eval.Row, error) {
	if len(cfg.Datasets) == 0 {
		return nil, errors.New("bench: no dataset")
	}
	seen := map[string]string{}
	for _, d := range cfg.Datasets {
		if p, ok := seen[d.Name]; ok {
			return nil, fmt.Errorf("bench: dataset name %s given twice (%s and %s): rows and plots are labelled by it", d.Name, p, d.Path)
		}
		seen[d.Name] = d.Path
	}
	eps := cfg.Epsilons
	if len(eps) == 0 {
		eps = DefaultQualityEpsilons
	}
	log := func(format string, args ...any) {
		if cfg.Log != nil {
			cfg.Log(fmt.Sprintf(format, args...))
		}
	}
	var rows []eval.Row
	for _, d := range cfg.Datasets {
		start := time.Now()
		ds, bad, err := LoadDataset(ctx, d)
		if err != nil {
			return rows, err
		}
		for _, l := range bad.Lines(d.Path) {
			log("%s", l)
		}
		log("%s: %s, %s, %s, read in %.1f s", d.Name, features.Plural(ds.Users(), "user"), features.Plural(ds.Items(), "item"), features.Plural(ds.Pairs(), "pair"), time.Since(start).Seconds())
		rs, err := eval.Run(ctx, eval.Config{
			Name: d.Name, Dataset: ds, Epsilons: eps, Seeds: cfg.Seeds, Factors: cfg.Factors, ALS: cfg.ALS, Privacy: cfg.Privacy,
			Workers: cfg.Workers, Log: cfg.Log,
		})
		if err != nil {
			return rows, fmt.Errorf("bench: %s: %w", d.Name, err)
		}
		rows = append(rows, rs...)
	}
	return rows, nil
}

// WriteQualityMarkdown writes rows as a Markdown table (mean ± std over
// seeds) with a note on the protocol (eval.Legend).
func WriteQualityMarkdown(w io.Writer, rows []eval.Row) error {
	fmt.Fprintln(w, "| "+strings.Join(eval.TableHeader, " | ")+" |")
	fmt.Fprintln(w, strings.Repeat("|---", len(eval.TableHeader))+"|")
	for _, r := range rows {
		fmt.Fprintln(w, "| "+strings.Join(r.Cells(), " | ")+" |")
	}
	_, err := fmt.Fprintf(w, "\n%s\n", eval.Legend(rows))
	return err
}

// WriteQualityPlots writes one privacy–utility plot per dataset of rows
// (eval.WritePlot): to path itself for a single dataset, else to
// path's name with "-DATASET" before the extension. It returns the files
// written. The extension (.png or .svg) selects the format.
func WriteQualityPlots(path string, rows []eval.Row) ([]string, error) {
	format, err := eval.PlotFormat(path)
	if err != nil {
		return nil, err
	}
	var names []string
	by := map[string][]eval.Row{}
	for _, r := range rows {
		if _, ok := by[r.Dataset]; !ok {
			names = append(names, r.Dataset)
		}
		by[r.Dataset] = append(by[r.Dataset], r)
	}
	var files []string
	for _, n := range names {
		file := path
		if len(names) > 1 {
			ext := filepath.Ext(path)
			file = strings.TrimSuffix(path, ext) + "-" + n + ext
		}
		if err := writeFile(file, func(w io.Writer) error { return eval.WritePlot(w, format, by[n]) }); err != nil {
			return files, err
		}
		files = append(files, file)
	}
	return files, nil
}

// writeFile writes a file through fn, removing it if fn fails.
func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	err = fn(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return nil
}
