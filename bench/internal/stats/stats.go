package stats

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// Jain is Jain's fairness index of xs, (Σx)² / (n·Σx²): 1 when every x is
// the same, 1/n when one x holds everything. It is NaN for no xs or all
// zeros, where fairness means nothing.
func Jain(xs ...float64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	if sq == 0 {
		return math.NaN()
	}
	return sum * sum / (float64(len(xs)) * sq)
}

// Num is a measured figure. It may be +Inf (a time that never came within
// the run: the figure is censored at the run's end) or NaN (nothing to
// measure); JSON writes those as "+Inf" and null.
type Num float64

// MarshalJSON writes finite numbers as numbers, +Inf as "+Inf" and NaN as
// null.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte("null"), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (n *Num) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		*n = Num(math.NaN())
		return nil
	case `"+Inf"`:
		*n = Num(math.Inf(1))
		return nil
	case `"-Inf"`:
		*n = Num(math.Inf(-1))
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("stats: number %s: %w", b, err)
	}
	*n = Num(f)
	return nil
}

// Summary is the median and range of repeated measurements of a figure.
type Summary struct {
	Median Num `json:"median"`
	Min    Num `json:"min"`
	Max    Num `json:"max"`
	// N counts the measurements; NaNs are left out.
	N int `json:"n"`
}

// Summarize returns the median (the mean of the middle two for an even
// count), minimum and maximum of xs, leaving NaNs out; +Inf sorts last.
// With no measurement every field is NaN.
func Summarize(xs []Num) Summary {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(float64(x)) {
			v = append(v, float64(x))
		}
	}
	if len(v) == 0 {
		nan := Num(math.NaN())
		return Summary{nan, nan, nan, 0}
	}
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		a, b := v[len(v)/2-1], v[len(v)/2]
		if math.IsInf(a, 1) || math.IsInf(b, 1) {
			m = math.Inf(1)
		} else {
			m = (a + b) / 2
		}
	}
	return Summary{Num(m), Num(v[0]), Num(v[len(v)-1]), len(v)}
}

// MedianIndex returns the index in xs of the measurement whose value is
// the median (the lower middle one for an even count), for picking the
// repetition a chart shows; NaNs sort last. It is -1 for no xs.
func MedianIndex(xs []Num) int {
	if len(xs) == 0 {
		return -1
	}
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	key := func(i int) float64 {
		if math.IsNaN(float64(xs[i])) {
			return math.Inf(1)
		}
		return float64(xs[i])
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(key(a), key(b)) })
	return idx[(len(idx)-1)/2]
}

// Span is a stretch of a series, from From to To, both relative to the
// series' start.
type Span struct{ From, To time.Duration }

// buckets returns the indices of the buckets of width step lying wholly
// inside the span, clipped to n buckets.
func (s Span) buckets(step time.Duration, n int) (lo, hi int) {
	lo = int((s.From + step - 1) / step)
	hi = min(int(s.To/step), n)
	return max(lo, 0), hi
}

// Sum adds the buckets of series (of width step) that lie wholly inside
// span.
func Sum(series []int64, step time.Duration, span Span) int64 {
	lo, hi := span.buckets(step, len(series))
	var n int64
	for i := lo; i < hi; i++ {
		n += series[i]
	}
	return n
}

// Rate is the mean of the buckets of series that lie wholly inside span,
// per second; NaN when none does.
func Rate(series []int64, step time.Duration, span Span) float64 {
	lo, hi := span.buckets(step, len(series))
	if hi <= lo {
		return math.NaN()
	}
	return float64(Sum(series, step, span)) / (float64(hi-lo) * step.Seconds())
}

// Reach is the time from the instant from (relative to the series' start)
// until series, in buckets of width step, reaches target per second: the
// end of the first bucket, starting with the one holding from, whose rate
// is at least target and from which the mean rate of the next window
// buckets (itself included, fewer at the end of the series) is at least
// target too, so that a lone lucky bucket does not count. ok is false when
// the series never does.
func Reach(series []int64, step time.Duration, from time.Duration, target float64, window int) (d time.Duration, ok bool) {
	window = max(window, 1)
	perBucket := target * step.Seconds()
	for b := max(int(from/step), 0); b < len(series); b++ {
		if float64(series[b]) < perBucket {
			continue
		}
		end := min(b+window, len(series))
		var sum int64
		for _, v := range series[b:end] {
			sum += v
		}
		if float64(sum) >= perBucket*float64(end-b) {
			return time.Duration(b+1)*step - from, true
		}
	}
	return 0, false
}
