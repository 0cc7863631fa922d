package stats

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestJain(t *testing.T) {
	for _, tc := range []struct {
		give []float64
		want float64
	}{
		{[]float64{5, 5, 5, 5}, 1},
		{[]float64{4, 0, 0, 0}, 0.25},
		{[]float64{1, 3}, 16.0 / 20},
	} {
		if got := Jain(tc.give...); !near(got, tc.want, 1e-12) {
			t.Errorf("Jain(%v) = %v, want %v", tc.give, got, tc.want)
		}
	}
	if got := Jain(0, 0); !math.IsNaN(got) {
		t.Errorf("Jain(0, 0) = %v, want NaN", got)
	}
}

func TestSummarize(t *testing.T) {
	inf, nan := Num(math.Inf(1)), Num(math.NaN())
	for _, tc := range []struct {
		name string
		give []Num
		want Summary
	}{
		{"odd", []Num{3, 1, 2}, Summary{2, 1, 3, 3}},
		{"even", []Num{4, 1, 2, 3}, Summary{2.5, 1, 4, 4}},
		{"NaN left out", []Num{nan, 5, 7, 6}, Summary{6, 5, 7, 3}},
		{"censored last", []Num{inf, 1, 2}, Summary{2, 1, inf, 3}},
		{"censored median", []Num{inf, inf, 1}, Summary{inf, 1, inf, 3}},
	} {
		if got := Summarize(tc.give); got != tc.want {
			t.Errorf("%s: Summarize(%v) = %+v, want %+v", tc.name, tc.give, got, tc.want)
		}
	}
	if got := Summarize(nil); !math.IsNaN(float64(got.Median)) || got.N != 0 {
		t.Errorf("Summarize(nil) = %+v", got)
	}
}

func TestMedianIndex(t *testing.T) {
	if got := MedianIndex([]Num{9, 1, 5}); got != 2 {
		t.Errorf("MedianIndex = %d, want 2", got)
	}
	if got := MedianIndex([]Num{Num(math.NaN()), 4, 2, 3}); got != 3 {
		t.Errorf("MedianIndex with NaN = %d, want 3 (the 3)", got)
	}
}

func TestNumJSON(t *testing.T) {
	in := []Num{1.5, Num(math.Inf(1)), Num(math.NaN())}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `[1.5,"+Inf",null]` {
		t.Errorf("JSON %s", b)
	}
	var out []Num
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out[0] != 1.5 || !math.IsInf(float64(out[1]), 1) || !math.IsNaN(float64(out[2])) {
		t.Errorf("round trip %v", out)
	}
}

var ms = time.Millisecond

func TestSumAndRateTakeWholeBuckets(t *testing.T) {
	s := []int64{1, 2, 3, 4, 5}
	step := 100 * ms
	for _, tc := range []struct {
		span Span
		sum  int64
		rate float64
	}{
		{Span{0, 500 * ms}, 15, 30},
		{Span{150 * ms, 450 * ms}, 7, 35}, // buckets 2 and 3
		{Span{300 * ms, time.Hour}, 9, 45},
	} {
		if got := Sum(s, step, tc.span); got != tc.sum {
			t.Errorf("Sum(%v) = %d, want %d", tc.span, got, tc.sum)
		}
		if got := Rate(s, step, tc.span); !near(got, tc.rate, 1e-9) {
			t.Errorf("Rate(%v) = %v, want %v", tc.span, got, tc.rate)
		}
	}
	if got := Rate(s, step, Span{120 * ms, 180 * ms}); !math.IsNaN(got) {
		t.Errorf("Rate over no whole bucket = %v, want NaN", got)
	}
}

func TestReach(t *testing.T) {
	step := 100 * ms
	// Target 90/s is 9 per bucket.
	for _, tc := range []struct {
		name   string
		series []int64
		from   time.Duration
		want   time.Duration
		ok     bool
	}{
		{"at once", []int64{0, 0, 10, 10, 10}, 200 * ms, 100 * ms, true},
		{"mid-bucket start", []int64{0, 0, 10, 10, 10}, 250 * ms, 50 * ms, true},
		{"a lucky bucket is not enough", []int64{0, 9, 0, 0, 9, 9, 9}, 0, 500 * ms, true},
		{"climb", []int64{0, 3, 6, 9, 9, 9, 9, 9}, 0, 400 * ms, true},
		{"never", []int64{0, 5, 5, 5}, 0, 0, false},
	} {
		got, ok := Reach(tc.series, step, tc.from, 90, 3)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Reach = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHistQuantilesWithinHalfAPercent(t *testing.T) {
	var h Hist
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * ms)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * ms}, {0.99, 990 * ms}, {1, 1000 * ms}, {0, 1 * ms}} {
		got := h.Quantile(tc.q)
		if !near(float64(got), float64(tc.want), 0.006*float64(tc.want)) {
			t.Errorf("Quantile(%v) = %v, want %v within 0.6%%", tc.q, got, tc.want)
		}
	}
	at, share := h.CDF()
	if len(at) != len(share) || share[len(share)-1] != 1 || at[len(at)-1] < time.Second {
		t.Errorf("CDF ends at %v, %v", at[len(at)-1], share[len(share)-1])
	}
}

func TestHistMergeAndJSON(t *testing.T) {
	var a, b Hist
	a.Add(10 * ms)
	b.Add(20 * ms)
	b.Add(30 * ms)
	a.Merge(&b)
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var c Hist
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.N() != 3 || c.Quantile(1) < 29*ms || c.Quantile(0) > 11*ms {
		t.Errorf("merged and read back: n %d, min %v, max %v", c.N(), c.Quantile(0), c.Quantile(1))
	}
	if err := json.Unmarshal([]byte(`{"growth":1.1,"min_ns":1000,"buckets":[]}`), &c); err == nil {
		t.Error("another bucket scheme: no error")
	}
}
