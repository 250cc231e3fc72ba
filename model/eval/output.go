package eval

import (
	"cmp"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// TableHeader names the columns of Row.Cells.
var TableHeader = []string{"dataset", "model", "ε", "δ", "factors", "P@10", "R@10", "R@20*", "NDCG@10", "coverage", "train s"}

// Cells formats r as the cells of a table under TableHeader: ε and δ as
// "∞" and "–" for a non-private row, factors "–" for the baselines, metrics
// as "mean ± std" over seeds.
func (r Row) Cells() []string {
	eps, delta, factors := epsilonText(r.Epsilon), "–", "–"
	if !math.IsInf(r.Epsilon, 1) {
		delta = fmt.Sprintf("%g", r.Delta)
	}
	if r.Factors > 0 {
		factors = fmt.Sprint(r.Factors)
	}
	return []string{r.Dataset, r.Model, eps, delta, factors,
		pm(r.Precision10, 3), pm(r.Recall10, 3), pm(r.Recall20, 3), pm(r.NDCG10, 3), pm(r.Coverage, 3), pm(r.TrainSeconds, 2)}
}

// epsilonText formats ε as the table and the progress lines show it: "∞"
// for a non-private run (the flags' "inf"), else the shortest decimal.
func epsilonText(eps float64) string {
	if math.IsInf(eps, 1) {
		return "∞"
	}
	return fmt.Sprintf("%g", eps)
}

// MaxSeeds returns the largest number of seeds of rows.
func MaxSeeds(rows []Row) int {
	seeds := 0
	for _, r := range rows {
		seeds = max(seeds, r.Seeds)
	}
	return seeds
}

// WriteTable writes rows as an aligned text table with a legend of the
// metric definitions. Rows of the validation split are announced above the
// table.
func WriteTable(w io.Writer, rows []Row) error {
	if HasValidation(rows) {
		fmt.Fprintln(w, "VALIDATION split (20 % of each user's training items, seed 43; for tuning, not the reported test figures)")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(TableHeader, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r.Cells(), "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, Legend(rows))
	return err
}

// HasValidation reports whether any of rows is of the validation split.
func HasValidation(rows []Row) bool {
	for _, r := range rows {
		if r.Split == SplitValidation {
			return true
		}
	}
	return false
}

// Legend describes the protocol behind rows in a few sentences, for a
// table footer; the package documentation has the details.
func Legend(rows []Row) string {
	split := "Split: test, per-user 20 % holdout (splitmix64, seed 42)"
	if HasValidation(rows) {
		split = "Split: validation, 20 % of each user's training items (seed 43) after the per-user 20 % test holdout (seed 42)"
	}
	return fmt.Sprintf("%s. Full ranking of the catalogue (items seen in training), the user's training items removed. "+
		"R@10 = hits/|T_u|; R@20* = hits/min(20, |T_u|); mean ± std over %d training seed(s), the split fixed. "+
		"Private rows have the factors of the private rank rule of 'discret train' (at most the factors asked for). "+
		"Protocol: go doc github.com/discret-io/discret/model/eval.", split, MaxSeeds(rows))
}

// pm formats a Stat as "mean ± std" (just the mean when std is 0).
func pm(s Stat, prec int) string {
	if s.Std == 0 {
		return fmt.Sprintf("%.*f", prec, s.Mean)
	}
	return fmt.Sprintf("%.*f ± %.*f", prec, s.Mean, prec, s.Std)
}

// jsonRow is the JSON form of a Row. Epsilon and Delta are null for a
// non-private model, Factors for a model without factors (the baselines).
type jsonRow struct {
	Dataset      string   `json:"dataset"`
	Split        string   `json:"split"`
	Model        string   `json:"model"`
	Epsilon      *float64 `json:"epsilon"`
	Delta        *float64 `json:"delta"`
	Factors      *int     `json:"factors"`
	Seeds        int      `json:"seeds"`
	Users        int      `json:"users"`
	P10          float64  `json:"precision@10"`
	P10Std       float64  `json:"precision@10_std"`
	R10          float64  `json:"recall@10"`
	R10Std       float64  `json:"recall@10_std"`
	R20          float64  `json:"recall@20"`
	R20Std       float64  `json:"recall@20_std"`
	NDCG10       float64  `json:"ndcg@10"`
	NDCG10Std    float64  `json:"ndcg@10_std"`
	NDCG10SE     float64  `json:"ndcg@10_se"`
	Coverage     float64  `json:"coverage"`
	CoverageStd  float64  `json:"coverage_std"`
	TrainSeconds float64  `json:"train_seconds"`
	TrainStd     float64  `json:"train_seconds_std"`
}

// optInt is n, or nil if n is 0.
func optInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// WriteJSON writes rows as one JSON array, one object per row, with the keys
// dataset, split ("test" or "validation"), model, epsilon (null when non-private), delta, factors (null for the baselines), seeds,
// users, precision@10, recall@10 (hits/|T_u|), recall@20
// (hits/min(20, |T_u|)), ndcg@10, coverage and train_seconds (means), each
// metric also with a "_std" key (over seeds), and ndcg@10_se, the standard
// error of ndcg@10 over users (Row.NDCG10SE).
func WriteJSON(w io.Writer, rows []Row) error {
	out := make([]jsonRow, len(rows))
	for i, r := range rows {
		j := jsonRow{
			Dataset: r.Dataset, Split: cmp.Or(r.Split, SplitTest), Model: r.Model, Factors: optInt(r.Factors), Seeds: r.Seeds, Users: r.Users,
			P10: r.Precision10.Mean, P10Std: r.Precision10.Std,
			R10: r.Recall10.Mean, R10Std: r.Recall10.Std,
			R20: r.Recall20.Mean, R20Std: r.Recall20.Std,
			NDCG10: r.NDCG10.Mean, NDCG10Std: r.NDCG10.Std, NDCG10SE: r.NDCG10SE.Mean,
			Coverage: r.Coverage.Mean, CoverageStd: r.Coverage.Std,
			TrainSeconds: r.TrainSeconds.Mean, TrainStd: r.TrainSeconds.Std,
		}
		if !math.IsInf(r.Epsilon, 1) {
			eps, delta := r.Epsilon, r.Delta
			j.Epsilon, j.Delta = &eps, &delta
		}
		out[i] = j
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// PlotFormat returns the image format of a plot file name: "png" or "svg".
func PlotFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png", ".svg":
		return ext[1:], nil
	default:
		return "", fmt.Errorf("eval: plot file %q: want a .png or .svg name", path)
	}
}

// Plot colours (Okabe–Ito palette, readable with colour-vision deficiency).
var (
	colorALS     = color.RGBA{R: 0, G: 114, B: 178, A: 255}
	colorPopular = color.RGBA{R: 213, G: 94, B: 0, A: 255}
)

// WritePlot draws the privacy–utility curve of rows (NDCG@10 against ε,
// mean ± std over seeds, for private ALS and DP most-popular, with the
// non-private models as horizontal reference lines) and writes it in format
// ("png" or "svg") to w.
func WritePlot(w io.Writer, format string, rows []Row) error {
	if format != "png" && format != "svg" {
		return fmt.Errorf("eval: plot format %q: want png or svg", format)
	}
	p := plot.New()
	name := ""
	seeds, delta := 0, 0.0
	for _, r := range rows {
		name = r.Dataset
		seeds = max(seeds, r.Seeds)
		if r.Delta > 0 {
			delta = r.Delta
		}
	}
	p.Title.Text = "Privacy–utility trade-off"
	if name != "" {
		p.Title.Text += ": " + name
	}
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = "privacy budget ε (log scale)"
	if delta > 0 {
		p.X.Label.Text = fmt.Sprintf("privacy budget ε (log scale), δ = %g", delta)
	}
	p.Y.Label.Text = fmt.Sprintf("NDCG@10 (mean ± std, %d seed(s))", seeds)
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = epsTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	var epsMin, epsMax = math.Inf(1), math.Inf(-1)
	curves := map[string]plotter.XYs{}
	errs := map[string]plotter.YErrors{}
	refs := map[string]float64{}
	for _, r := range rows {
		if math.IsInf(r.Epsilon, 1) {
			refs[r.Model] = r.NDCG10.Mean
			continue
		}
		epsMin, epsMax = min(epsMin, r.Epsilon), max(epsMax, r.Epsilon)
		curves[r.Model] = append(curves[r.Model], plotter.XY{X: r.Epsilon, Y: r.NDCG10.Mean})
		errs[r.Model] = append(errs[r.Model], struct{ Low, High float64 }{r.NDCG10.Std, r.NDCG10.Std})
	}
	if math.IsInf(epsMin, 1) { // no private rows: show a nominal range
		epsMin, epsMax = 0.5, 10
	}
	if epsMin == epsMax {
		epsMin, epsMax = epsMin/2, epsMax*2
	}
	p.X.Min, p.X.Max = epsMin/1.2, epsMax*1.2

	yMax := 0.0
	for _, m := range []struct {
		model, label string
		c            color.Color
		shape        draw.GlyphDrawer
	}{
		{ModelALS, "DP-ALS (private)", colorALS, draw.CircleGlyph{}},
		{ModelDPPopular, "DP most-popular", colorPopular, draw.SquareGlyph{}},
	} {
		xys := curves[m.model]
		if len(xys) == 0 {
			continue
		}
		slices.SortFunc(xys, func(a, b plotter.XY) int { return cmpFloat(a.X, b.X) })
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("eval: plot: %w", err)
		}
		line.Color, line.Width = m.c, vg.Points(2)
		pts.Color, pts.Shape, pts.Radius = m.c, m.shape, vg.Points(3.5)
		p.Add(line, pts)
		p.Legend.Add(m.label, line, pts)
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{xys, errs[m.model]})
		if err == nil {
			bars.Color, bars.LineStyle.Width = m.c, vg.Points(1.2)
			p.Add(bars)
		}
		for i, xy := range xys {
			yMax = max(yMax, xy.Y+errs[m.model][i].High)
		}
	}
	for _, m := range []struct {
		model, label string
		c            color.Color
	}{
		{ModelALS, "ALS, non-private (ε = ∞)", colorALS},
		{ModelPopular, "most-popular, non-private", colorPopular},
	} {
		y, ok := refs[m.model]
		if !ok {
			continue
		}
		yMax = max(yMax, y)
		ref, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: y}, {X: p.X.Max, Y: y}})
		if err != nil {
			return fmt.Errorf("eval: plot: %w", err)
		}
		ref.Color, ref.Width, ref.Dashes = m.c, vg.Points(1.5), []vg.Length{vg.Points(6), vg.Points(4)}
		p.Add(ref)
		p.Legend.Add(m.label, ref)
	}
	p.Y.Min, p.Y.Max = 0, math.Max(0.05, yMax*1.25) // headroom for the legend
	p.Y.Tick.Marker = linearTicks{}
	width, height := 16*vg.Centimeter, 11*vg.Centimeter
	if format == "png" {
		c := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(150))
		p.Draw(draw.New(c))
		_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
		return err
	}
	wt, err := p.WriterTo(width, height, format)
	if err != nil {
		return fmt.Errorf("eval: plot: %w", err)
	}
	_, err = wt.WriteTo(w)
	return err
}

// linearTicks labels a linear axis at the first of the steps 0.01, 0.02,
// 0.05, 0.1, … that gives at most ten intervals.
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 0.01
	for i := 0; (hi-lo)/step > 10; i++ {
		step *= []float64{2, 2.5, 2}[i%3]
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step/1e6; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprintf("%.2f", v)})
	}
	return ticks
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// epsTicks labels a logarithmic ε axis at 1-2-5 steps.
type epsTicks struct{}

func (epsTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)) - 1; math.Pow(10, e) <= hi*10; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprintf("%g", v)})
		}
	}
	return ticks
}
