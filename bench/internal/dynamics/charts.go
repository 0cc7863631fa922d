package dynamics

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ebb-go/ebb/bench/internal/contender"
	"github.com/ebb-go/ebb/bench/internal/stats"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// chart is one picture of the report.
type chart struct {
	file, title string
	render      func(path string) error
}

// style is how a client's line looks, the same in every chart.
func style(key string) draw.LineStyle {
	s := draw.LineStyle{Width: vg.Points(1.3)}
	switch key {
	case contender.KeyEbb:
		s.Color, s.Width = color.RGBA{0, 80, 200, 255}, vg.Points(2)
	case contender.KeyEbbNoLimiter:
		s.Color, s.Dashes = color.RGBA{90, 170, 255, 255}, []vg.Length{vg.Points(5), vg.Points(2)}
	case contender.KeyRetryableHTTP:
		s.Color = color.RGBA{230, 110, 0, 255}
	case contender.KeyFailsafe:
		s.Color = color.RGBA{0, 150, 60, 255}
	case contender.KeyFailsafeAttempt:
		s.Color = color.RGBA{150, 150, 0, 255}
	default:
		s.Color, s.Width, s.Dashes = color.RGBA{110, 110, 110, 255}, vg.Points(1), []vg.Length{vg.Points(2), vg.Points(2)}
	}
	return s
}

// charts lists the report's charts: goodput over time around each outage
// and around the halving, the latency distribution of the steady
// overload, and each fleet's processes over time.
func (rep *Report) charts() []chart {
	var out []chart
	for _, o := range rep.outageNames() {
		out = append(out, chart{o + ".png", "Goodput around " + strings.ToLower(outageTitle(o)[:1]) + outageTitle(o)[1:],
			func(p string) error { return rep.transition(p, o, FigRecovery, "outage ") }})
	}
	if _, ok := rep.Summary[ScenarioHalve]; ok {
		out = append(out, chart{"halve.png", "Goodput while the capacity halves, then returns",
			func(p string) error { return rep.transition(p, ScenarioHalve, FigRefill, "slots ") }})
	}
	if _, ok := rep.Summary[ScenarioSteady]; ok {
		out = append(out, chart{"steady-latency.png", "Latency of the steady overload",
			func(p string) error { return rep.latency(p) }})
	}
	for _, f := range []string{"fleet-together", "fleet-staggered"} {
		if _, ok := rep.Summary[f]; ok {
			out = append(out, chart{f + ".png", "Each process's goodput, " + strings.TrimPrefix(f, "fleet-"),
				func(p string) error { return rep.fleetChart(p, f) }})
		}
	}
	return out
}

// RenderCharts writes the report's charts as PNG files into dir, as many
// at once as there are CPUs.
func (rep *Report) RenderCharts(dir string) error {
	charts := rep.charts()
	errs := make([]error, len(charts))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, c := range charts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := c.render(filepath.Join(dir, c.file)); err != nil {
				errs[i] = fmt.Errorf("dynamics: chart %s: %w", c.file, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// capacities maps each repetition to its probed capacity.
func (rep *Report) capacities() map[int]float64 {
	out := map[int]float64{}
	for _, r := range rep.Records {
		if r.Scenario == "probe" && r.Error == "" {
			out[r.Rep] = float64(r.Figures[FigCapacity])
		}
	}
	return out
}

// median picks, among a client's runs of a scenario, the one whose figure
// is the median, so that a chart shows a typical run, not a lucky one.
func (rep *Report) median(scenario, client, fig string) *Record {
	var recs []*Record
	var vals []stats.Num
	for i := range rep.Records {
		r := &rep.Records[i]
		if r.Scenario == scenario && r.Client == client && r.Error == "" {
			recs = append(recs, r)
			vals = append(vals, r.Figures[fig])
		}
	}
	if len(recs) == 0 {
		return nil
	}
	return recs[stats.MedianIndex(vals)]
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Add(plotter.NewGrid())
	return p
}

// span is where a change starts and ends, from a run's events.
func span(r *Record, prefix string) (from, to float64, ok bool) {
	var at []float64
	for _, e := range r.Events {
		if strings.HasPrefix(e.What, prefix) {
			at = append(at, e.AtMS/1000)
		}
	}
	if len(at) < 2 {
		return 0, 0, false
	}
	return at[0], at[len(at)-1], true
}

// transition draws the server's accepted answers per 100ms, as a share of
// the capacity, for each client's median run of a scenario, with the
// change shaded.
func (rep *Report) transition(file, scenario, fig, event string) error {
	caps := rep.capacities()
	title := "Goodput while the capacity halves, then returns (shaded: halved)"
	if scenario != ScenarioHalve {
		title = "Goodput around " + strings.ToLower(outageTitle(scenario)[:1]) + outageTitle(scenario)[1:] + " (shaded)"
	}
	p := newPlot(title, "seconds from the start of the run", "accepted per 100 ms / capacity")
	var shaded bool
	ymax, xmax := 1.0, 0.0
	for _, client := range rep.clientsOf(scenario) {
		r := rep.median(scenario, client, fig)
		if r == nil || caps[r.Rep] == 0 {
			continue
		}
		if !shaded {
			if from, to, ok := span(r, event); ok {
				poly, err := plotter.NewPolygon(plotter.XYs{{X: from, Y: 0}, {X: to, Y: 0}, {X: to, Y: 1.6}, {X: from, Y: 1.6}})
				if err != nil {
					return err
				}
				poly.Color = color.RGBA{225, 225, 225, 255}
				poly.LineStyle.Width = 0
				p.Add(poly)
				shaded = true
			}
		}
		pts := make(plotter.XYs, 0, len(r.Accepted))
		perBucket := caps[r.Rep] * bucket.Seconds()
		for i, v := range r.Accepted {
			x := (float64(i) + 0.5) * bucket.Seconds()
			if r.StopS > 0 && x > r.StopS {
				break
			}
			pts = append(pts, plotter.XY{X: x, Y: float64(v) / perBucket})
			ymax, xmax = max(ymax, float64(v)/perBucket), max(xmax, x)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.LineStyle = style(client)
		p.Add(l)
		label := name(client)
		if v := r.Figures[fig]; !math.IsNaN(float64(v)) {
			label += " (" + strings.TrimSuffix(fig, "_s") + " " + format(float64(v), kS) + ")"
		}
		p.Legend.Add(label, l)
	}
	p.Y.Min, p.Y.Max = 0, math.Max(1.6, ymax*1.05)
	p.X.Min, p.X.Max = 0, xmax
	return p.Save(10*vg.Inch, 5*vg.Inch, file)
}

// latency draws the distribution of the steady overload's latencies, all
// repetitions together, against the queueing floor.
func (rep *Report) latency(file string) error {
	st := rep.Meta.Settings
	p := newPlot(fmt.Sprintf("Latency of the steady overload (%d goroutines, %d slots × %s), all repetitions", st.Goroutines, st.Slots, st.Service),
		"latency of a logical request, ms (log scale)", "share of requests at or below")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs, p.Legend.XOffs = vg.Points(40), vg.Points(-10)
	xmin, xmax := math.Inf(1), 0.0
	for _, client := range rep.clientsOf(ScenarioSteady) {
		var h stats.Hist
		for _, r := range rep.Records {
			if r.Scenario == ScenarioSteady && r.Client == client && r.Latency != nil {
				h.Merge(r.Latency)
			}
		}
		at, share := h.CDF()
		if len(at) == 0 {
			continue
		}
		pts := make(plotter.XYs, 0, len(at)+1)
		for i := range at {
			x := float64(at[i]) / float64(time.Millisecond)
			pts = append(pts, plotter.XY{X: x, Y: share[i]})
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.LineStyle = style(client)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (p99 %s)", name(client), format(float64(rep.get(ScenarioSteady, client, FigP99).Median), kMS)), l)
	}
	if c := float64(rep.get("probe", contender.KeyNone, FigCapacity).Median); c > 0 && xmax > 0 {
		floor := float64(st.Goroutines) / c * 1000
		l, err := plotter.NewLine(plotter.XYs{{X: floor, Y: 0}, {X: floor, Y: 1}})
		if err != nil {
			return err
		}
		l.LineStyle = draw.LineStyle{Color: color.Black, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(1), vg.Points(3)}}
		p.Add(l)
		p.Legend.Add("queueing floor G/capacity = "+format(floor, kMS), l)
		xmin, xmax = math.Min(xmin, floor), math.Max(xmax, floor)
	}
	if xmax > 0 {
		p.X.Min, p.X.Max = math.Max(xmin/1.5, 0.1), xmax*1.5
	}
	p.Y.Min, p.Y.Max = 0, 1.02
	return p.Save(10*vg.Inch, 5*vg.Inch, file)
}

// fleetChart draws, for each client's median run (by Jain's index over
// the processes), each process's goodput over time, one panel per client.
func (rep *Report) fleetChart(file, scenario string) error {
	caps := rep.capacities()
	clients := rep.clientsOf(scenario)
	if len(clients) == 0 {
		return nil
	}
	const smooth = 5 // buckets in the moving mean
	colors := []color.Color{
		color.RGBA{0, 80, 200, 255}, color.RGBA{230, 110, 0, 255}, color.RGBA{0, 150, 60, 255}, color.RGBA{200, 0, 80, 255},
		color.RGBA{120, 60, 180, 255}, color.RGBA{90, 90, 90, 255},
	}
	cols := min(len(clients), 2)
	rows := (len(clients) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	for k, client := range clients {
		p := newPlot(name(client), "seconds from the start of the run", "share of capacity, 0.5 s mean")
		r := rep.median(scenario, client, FigJainProcs)
		if r != nil && caps[r.Rep] > 0 {
			perBucket := caps[r.Rep] * bucket.Seconds()
			for i, series := range r.Procs {
				pts := make(plotter.XYs, 0, len(series))
				for b := range series {
					if r.StopS > 0 && float64(b+1)*bucket.Seconds() > r.StopS {
						break
					}
					lo := max(0, b-smooth+1)
					var s int64
					for _, v := range series[lo : b+1] {
						s += v
					}
					pts = append(pts, plotter.XY{X: float64(b+1) * bucket.Seconds(), Y: float64(s) / float64(b+1-lo) / perBucket})
				}
				l, err := plotter.NewLine(pts)
				if err != nil {
					return err
				}
				l.LineStyle = draw.LineStyle{Color: colors[i%len(colors)], Width: vg.Points(1.3)}
				p.Add(l)
				p.Legend.Add("process "+strconv.Itoa(i+1), l)
			}
			p.Title.Text += fmt.Sprintf(" (Jain over processes %.3f)", float64(r.Figures[FigJainProcs]))
		}
		p.Y.Min, p.Y.Max = 0, 1.2
		plots[k/cols][k%cols] = p
	}
	for k := len(clients); k < rows*cols; k++ {
		plots[k/cols][k%cols] = plot.New()
	}
	w, h := 12*vg.Inch, vg.Length(rows)*4*vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	t := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(20), PadY: vg.Points(20), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	canvases := plot.Align(plots, t, dc)
	for j := range rows {
		for i := range cols {
			plots[j][i].Draw(canvases[j][i])
		}
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
