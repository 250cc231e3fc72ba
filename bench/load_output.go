package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/discret-io/discret/features"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mode describes the load model of r.
func (r *LoadReport) mode() string {
	if r.Rate > 0 {
		return fmt.Sprintf("open loop at %g requests/s, at most %d in flight", r.Rate, r.Clients)
	}
	return fmt.Sprintf("closed loop, %d client(s)", r.Clients)
}

// ErrorShare returns the failed share of the measured requests, from 0 to
// 1 (0 when nothing was measured).
func (r *LoadReport) ErrorShare() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Requests)
}

// Error kinds, which group the codes of LoadReport.ByCode.
const (
	KindRateLimited      = "rate limited"      // HTTP 429, RESOURCE_EXHAUSTED
	KindUnauthenticated  = "unauthenticated"   // HTTP 401: a bad or revoked API key
	KindPermissionDenied = "permission denied" // HTTP 403: a scope missing
	KindTimeout          = "timeout"           // no answer within --timeout, HTTP 504
	KindUnavailable      = "unavailable"       // HTTP 503, UNAVAILABLE: server down or draining
	KindTransport        = "transport"         // no HTTP answer: connection refused or reset
	KindServer           = "server error"      // other 5xx, INTERNAL, UNKNOWN…
	KindRefused          = "refused"           // other 4xx: the request itself
)

// ErrorKind returns the kind of an error code of LoadReport.ByCode.
func ErrorKind(code string) string {
	switch code {
	case "http_429", "ResourceExhausted":
		return KindRateLimited
	case "http_401", "Unauthenticated":
		return KindUnauthenticated
	case "http_403", "PermissionDenied":
		return KindPermissionDenied
	case "timeout", "http_504", "DeadlineExceeded":
		return KindTimeout
	case "http_503", "Unavailable":
		return KindUnavailable
	case "transport":
		return KindTransport
	case "Internal", "Unknown", "DataLoss", "Unimplemented":
		return KindServer
	}
	if n, ok := strings.CutPrefix(code, "http_"); ok && n >= "500" {
		return KindServer
	}
	return KindRefused
}

// ErrorKinds returns the errors of r by kind (ErrorKind).
func (r *LoadReport) ErrorKinds() map[string]int64 {
	m := map[string]int64{}
	for code, n := range r.ByCode {
		m[ErrorKind(code)] += n
	}
	return m
}

// ErrorSummary lists the errors of r by kind, the most frequent first:
// "rate limited 9910, timeout 3" ("" without errors).
func (r *LoadReport) ErrorSummary() string {
	kinds := r.ErrorKinds()
	keys := slices.SortedFunc(maps.Keys(kinds), func(a, b string) int {
		return cmp.Or(cmp.Compare(kinds[b], kinds[a]), cmp.Compare(a, b))
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, kinds[k]))
	}
	return strings.Join(parts, ", ")
}

// RateLimitNote says, when the server's rate limit refused requests of r,
// how long it asked to wait (rounded up to whole seconds) and which server
// flags set the limit: "refused by the server's rate limit, which asked
// to retry after 1 s: …"; "" when it refused none.
func (r *LoadReport) RateLimitNote() string {
	if r.RateLimited == 0 {
		return ""
	}
	wait := "which did not say when to retry"
	if r.RetryAfter > 0 {
		wait = "which asked to retry after " + wholeSeconds(r.RetryAfter)
	}
	return "refused by the server's rate limit, " + wait + ": 'discret serve --rate-limit' (per API key, 1000/s by default) or --token-rate-limit (per customer token); start the server with --rate-limit -1 to measure its capacity"
}

// wholeSeconds formats d rounded up to whole seconds, at least 1: "2 s".
func wholeSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10) + " s"
}

// WriteTable writes r as a human-readable table.
func (r *LoadReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "target\t%s (%s, %s, limit %d)\n", r.Target, strings.ToUpper(r.Transport), r.Method, r.Limit)
	fmt.Fprintf(tw, "load\t%s\n", r.mode())
	fmt.Fprintf(tw, "measured\t%.1f s after %.1f s of warm-up\n", r.Elapsed.Seconds(), r.Warmup.Seconds())
	fmt.Fprintf(tw, "requests\t%d\n", r.Requests)
	errs := fmt.Sprintf("%d", r.Errors)
	if r.Errors > 0 {
		var parts []string
		for _, code := range slices.Sorted(maps.Keys(r.ByCode)) {
			parts = append(parts, fmt.Sprintf("%s %d", code, r.ByCode[code]))
		}
		errs += fmt.Sprintf(" (%.2f %%: %s)", 100*r.ErrorShare(), strings.Join(parts, ", "))
	}
	fmt.Fprintf(tw, "errors\t%s\n", errs)
	if r.Errors > 0 {
		fmt.Fprintf(tw, "  by kind\t%s\n", r.ErrorSummary())
	}
	if note := r.RateLimitNote(); note != "" {
		fmt.Fprintf(tw, "  rate limited\t%s, %s\n", features.Plural(int(r.RateLimited), "request"), note)
	}
	for _, code := range slices.Sorted(maps.Keys(r.Samples)) {
		fmt.Fprintf(tw, "  first %s\t%s\n", code, r.Samples[code])
	}
	fmt.Fprintf(tw, "throughput\t%.1f successful requests/s\n", r.RPS)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency (ms)\tmean\tp50\tp90\tp99\tp99.9\tmax\t")
	fmt.Fprintf(tw, "\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", ms(r.Mean), ms(r.P50), ms(r.P90), ms(r.P99), ms(r.P999), ms(r.Max))
	if err := tw.Flush(); err != nil {
		return err
	}
	from := "send"
	if r.Rate > 0 {
		from = "scheduled send"
	}
	_, err := fmt.Fprintf(w, "Latency of successful requests from %s time to the full answer; HDR histogram, 3 significant digits.\n", from)
	return err
}

// loadJSON is the JSON form of a LoadReport.
type loadJSON struct {
	Target     string            `json:"target"`
	Transport  string            `json:"transport"`
	Method     string            `json:"method"`
	Limit      int               `json:"limit"`
	Clients    int               `json:"clients"`
	Rate       float64           `json:"rate"`
	WarmupS    float64           `json:"warmup_s"`
	DurationS  float64           `json:"duration_s"`
	Requests   int64             `json:"requests"`
	Errors     int64             `json:"errors"`
	ByCode     map[string]int64  `json:"errors_by_code"`
	ByKind     map[string]int64  `json:"errors_by_kind"`
	Limited    int64             `json:"rate_limited"`
	RetryS     float64           `json:"retry_after_s"`
	Samples    map[string]string `json:"error_samples,omitempty"`
	RPS        float64           `json:"rps"`
	MeanMS     float64           `json:"mean_ms"`
	P50MS      float64           `json:"p50_ms"`
	P90MS      float64           `json:"p90_ms"`
	P99MS      float64           `json:"p99_ms"`
	P999MS     float64           `json:"p999_ms"`
	MaxMS      float64           `json:"max_ms"`
	Timeline   []windowJSON      `json:"timeline,omitempty"`
	WindowSecs float64           `json:"window_s"`
}

type windowJSON struct {
	StartS   float64 `json:"start_s"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	MaxMS    float64 `json:"max_ms"`
}

// WriteJSON writes r as one JSON object with the keys requests (measured,
// failed ones included), errors, errors_by_code, errors_by_kind (ErrorKind),
// error_samples (the first message per code, when there are errors),
// rate_limited and retry_after_s (LoadReport.RateLimited and RetryAfter),
// rps (successful requests
// per second), mean_ms, p50_ms, p90_ms, p99_ms, p999_ms and max_ms, the
// run's settings (target, transport, method, limit, clients, rate — 0 for
// closed loop —, warmup_s, duration_s) and, when timeline is true, the
// per-window figures (window_s, timeline).
func (r *LoadReport) WriteJSON(w io.Writer, timeline bool) error {
	j := loadJSON{
		Target: r.Target, Transport: r.Transport, Method: r.Method, Limit: r.Limit,
		Clients: r.Clients, Rate: r.Rate, WarmupS: r.Warmup.Seconds(), DurationS: r.Elapsed.Seconds(),
		Requests: r.Requests, Errors: r.Errors, ByCode: r.ByCode, ByKind: r.ErrorKinds(), Samples: r.Samples, RPS: r.RPS,
		Limited: r.RateLimited, RetryS: r.RetryAfter.Seconds(),
		MeanMS: ms(r.Mean), P50MS: ms(r.P50), P90MS: ms(r.P90), P99MS: ms(r.P99), P999MS: ms(r.P999), MaxMS: ms(r.Max),
		WindowSecs: r.Window.Seconds(),
	}
	if j.ByCode == nil {
		j.ByCode = map[string]int64{}
	}
	if timeline {
		for _, lw := range r.Timeline {
			j.Timeline = append(j.Timeline, windowJSON{
				StartS: lw.Start.Seconds(), Requests: lw.Requests, Errors: lw.Errors,
				P50MS: ms(lw.P50), P99MS: ms(lw.P99), MaxMS: ms(lw.Max),
			})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}

// Plot colours (Okabe–Ito palette, readable with colour-vision deficiency).
var (
	colorBlue   = color.RGBA{R: 0, G: 114, B: 178, A: 255}
	colorOrange = color.RGBA{R: 230, G: 159, B: 0, A: 255}
	colorRed    = color.RGBA{R: 213, G: 94, B: 0, A: 255}
	colorGrey   = color.RGBA{R: 120, G: 120, B: 120, A: 255}
)

// WritePlot draws the latency over time of r (p50, p99 and max per
// window, in milliseconds on a logarithmic axis, against the seconds since
// the end of the warm-up) and writes it in format ("png" or "svg") to w.
func (r *LoadReport) WritePlot(w io.Writer, format string) error {
	if format != "png" && format != "svg" {
		return fmt.Errorf("bench: plot format %q: want png or svg", format)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s %s latency over time — %s, %.0f req/s", strings.ToUpper(r.Transport), r.Method, r.mode(), r.RPS)
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.Text = fmt.Sprintf("time since the end of the warm-up (s; windows of %v)", r.Window)
	p.Y.Label.Text = "latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	lo, hi := -1.0, 0.0
	series := []struct {
		label string
		c     color.Color
		dash  []vg.Length
		get   func(LoadWindow) time.Duration
	}{
		{"p50", colorBlue, nil, func(lw LoadWindow) time.Duration { return lw.P50 }},
		{"p99", colorOrange, nil, func(lw LoadWindow) time.Duration { return lw.P99 }},
		{"max", colorRed, []vg.Length{vg.Points(4), vg.Points(3)}, func(lw LoadWindow) time.Duration { return lw.Max }},
	}
	for _, s := range series {
		var xys plotter.XYs
		for _, lw := range r.Timeline {
			if lw.Requests == 0 {
				continue
			}
			v := ms(s.get(lw))
			if v <= 0 {
				v = 0.001 // below the histogram's resolution
			}
			xys = append(xys, plotter.XY{X: (lw.Start + r.Window/2).Seconds(), Y: v})
			if lo < 0 || v < lo {
				lo = v
			}
			hi = max(hi, v)
		}
		if len(xys) == 0 {
			continue
		}
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("bench: plot: %w", err)
		}
		line.Color, line.Width, line.Dashes = s.c, vg.Points(1.5), s.dash
		pts.Color, pts.Shape, pts.Radius = s.c, draw.CircleGlyph{}, vg.Points(1.5)
		p.Add(line, pts)
		p.Legend.Add(s.label, line)
	}
	if errs := r.errorWindows(); len(errs) > 0 && lo > 0 {
		// Mark windows with errors along the bottom of the plot.
		sc, err := plotter.NewScatter(errs.at(lo / 1.5))
		if err == nil {
			sc.Color, sc.Shape, sc.Radius = colorGrey, draw.CrossGlyph{}, vg.Points(3)
			p.Add(sc)
			p.Legend.Add("window with errors", sc)
		}
	}
	if lo <= 0 {
		lo, hi = 0.01, 1
	}
	p.Y.Min, p.Y.Max = lo/2, hi*4 // headroom for the legend
	wt, err := p.WriterTo(18*vg.Centimeter, 11*vg.Centimeter, format)
	if err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	_, err = wt.WriteTo(w)
	return err
}

type errorXs []float64

func (r *LoadReport) errorWindows() errorXs {
	var xs errorXs
	for _, lw := range r.Timeline {
		if lw.Errors > 0 {
			xs = append(xs, (lw.Start + r.Window/2).Seconds())
		}
	}
	return xs
}

func (e errorXs) at(y float64) plotter.XYs {
	xys := make(plotter.XYs, len(e))
	for i, x := range e {
		xys[i] = plotter.XY{X: x, Y: y}
	}
	return xys
}
