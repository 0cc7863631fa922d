package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// growth is the ratio of a bucket's upper edge to its lower one: a
// quantile read from the histogram is within half a percent of the truth.
const growth = 1.01

// histMin is the lower edge of bucket 0; shorter durations count in it.
const histMin = time.Microsecond

var logGrowth = math.Log(growth)

// Hist counts durations in buckets growing by 1% from 1µs, so that
// histograms from several processes merge exactly and quantiles read from
// them are within 0.5%. The zero value is empty and ready to use.
type Hist struct {
	counts map[int]int64
	n      int64
}

func bucketOf(d time.Duration) int {
	if d <= histMin {
		return 0
	}
	return int(math.Log(float64(d)/float64(histMin)) / logGrowth)
}

// mid is the geometric middle of bucket i, the value a quantile in it
// reads as.
func mid(i int) time.Duration {
	return time.Duration(float64(histMin) * math.Pow(growth, float64(i)+0.5))
}

// upper is the upper edge of bucket i.
func upper(i int) time.Duration {
	return time.Duration(float64(histMin) * math.Pow(growth, float64(i+1)))
}

// Add counts one duration.
func (h *Hist) Add(d time.Duration) {
	if h.counts == nil {
		h.counts = map[int]int64{}
	}
	h.counts[bucketOf(d)]++
	h.n++
}

// Merge adds o's counts to h's.
func (h *Hist) Merge(o *Hist) {
	if o == nil {
		return
	}
	for i, c := range o.counts {
		if h.counts == nil {
			h.counts = map[int]int64{}
		}
		h.counts[i] += c
	}
	h.n += o.n
}

// N is the number of durations counted.
func (h *Hist) N() int64 { return h.n }

func (h *Hist) sorted() []int {
	idx := make([]int, 0, len(h.counts))
	for i := range h.counts {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

// Quantile is the q-quantile of the durations (q in [0, 1]): the middle of
// the bucket holding the ⌈q·n⌉-th smallest. It is 0 for an empty
// histogram.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(q*float64(h.n))), 1)
	var seen int64
	idx := h.sorted()
	for _, i := range idx {
		seen += h.counts[i]
		if seen >= rank {
			return mid(i)
		}
	}
	return mid(idx[len(idx)-1])
}

// CDF returns, for each non-empty bucket in order, its upper edge and the
// share of durations at or below it.
func (h *Hist) CDF() (at []time.Duration, share []float64) {
	var seen int64
	for _, i := range h.sorted() {
		seen += h.counts[i]
		at = append(at, upper(i))
		share = append(share, float64(seen)/float64(h.n))
	}
	return at, share
}

// histJSON is the wire form of a Hist: its bucket scheme, so that a reader
// can check it, and the non-empty buckets as [index, count] pairs.
type histJSON struct {
	Growth  float64    `json:"growth"`
	MinNS   int64      `json:"min_ns"`
	Buckets [][2]int64 `json:"buckets"`
}

// MarshalJSON writes the histogram's non-empty buckets.
func (h Hist) MarshalJSON() ([]byte, error) {
	w := histJSON{Growth: growth, MinNS: int64(histMin), Buckets: [][2]int64{}}
	for _, i := range h.sorted() {
		w.Buckets = append(w.Buckets, [2]int64{int64(i), h.counts[i]})
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes, refusing another bucket
// scheme.
func (h *Hist) UnmarshalJSON(b []byte) error {
	var w histJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("stats: histogram: %w", err)
	}
	if w.Growth != growth || w.MinNS != int64(histMin) {
		return fmt.Errorf("stats: histogram with growth %v from %dns, want %v from %dns", w.Growth, w.MinNS, growth, int64(histMin))
	}
	*h = Hist{}
	for _, p := range w.Buckets {
		if p[1] < 0 {
			return fmt.Errorf("stats: histogram bucket %d with count %d", p[0], p[1])
		}
		if h.counts == nil {
			h.counts = map[int]int64{}
		}
		h.counts[int(p[0])] += p[1]
		h.n += p[1]
	}
	return nil
}
