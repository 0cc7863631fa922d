package breaker

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// clock tells the layer's time as a duration since its epoch, from the
// monotonic clock, and as the number of the window's bucket it falls in.
//
// Reading the clock costs more than the rest of a closed breaker's work
// (time.Since: about 30ns), so the path of a success does not read it: it
// reads tick, the current bucket, which a timer moves on at every bucket's
// boundary while requests flow. The timer stops after a bucket without a
// request, and the first request after that reads the clock and starts it
// again. Failures, transitions and Stats read the clock itself.
type clock struct {
	epoch  time.Time
	bucket time.Duration

	tick   atomic.Int64 // the current bucket, as of the last tick or read
	armed  atomic.Bool  // the timer runs
	active atomic.Bool  // a request asked for tick since the timer last fired

	mu    sync.Mutex
	timer *time.Timer // guarded by mu
}

func newClock(bucket time.Duration) *clock {
	return &clock{epoch: time.Now(), bucket: bucket}
}

// since returns the time since the epoch.
func (c *clock) since() time.Duration { return time.Since(c.epoch) }

// at returns the bucket of the instant d since the epoch.
func (c *clock) at(d time.Duration) int64 { return int64(d / c.bucket) }

// now returns the current bucket, reading the clock.
func (c *clock) now() int64 {
	b := c.at(c.since())
	c.advance(b)
	return b
}

// coarse returns the current bucket without reading the clock while the
// timer runs. It can lag by the timer's latency, microseconds.
func (c *clock) coarse() int64 {
	if !c.armed.Load() {
		return c.wake()
	}
	if !c.active.Load() {
		c.active.Store(true)
	}
	return c.tick.Load()
}

// advance moves tick on to b unless it is there already.
func (c *clock) advance(b int64) {
	for {
		t := c.tick.Load()
		if t >= b || c.tick.CompareAndSwap(t, b) {
			return
		}
	}
}

// wake reads the clock and starts the timer. A new timer each time, so that
// it belongs to the caller's testing/synctest bubble, if any.
func (c *clock) wake() int64 {
	d := c.since()
	b := c.at(d)
	c.advance(b)
	c.active.Store(true)
	if c.armed.CompareAndSwap(false, true) {
		c.mu.Lock()
		c.timer = time.AfterFunc(c.next(d), c.fire)
		c.mu.Unlock()
	}
	return b
}

// next returns the time from d to the next bucket's boundary.
func (c *clock) next(d time.Duration) time.Duration {
	return time.Duration(c.at(d)+1)*c.bucket - d
}

// fire runs at each boundary: it moves tick on, and keeps the timer going
// only if a request came since it last fired.
func (c *clock) fire() {
	d := c.since()
	c.advance(c.at(d))
	if !c.active.Swap(false) {
		c.armed.Store(false)
		return
	}
	c.mu.Lock()
	c.timer.Reset(c.next(d))
	c.mu.Unlock()
}

// window holds the outcomes a closed breaker counts over its rolling window:
// successes and failures per bucket, and the run of consecutive failures.
//
// Successes are counted without a lock, in stripes, so that goroutines on
// different processors do not contend for one counter; each slot holds its
// bucket's number beside the count, so an old slot is recognised and reset
// by the first success of its new bucket, and reading the window skips
// slots older than it. Failures, the run and resets are rarer and happen
// under the host's mutex.
type window struct {
	n       int64           // buckets
	stride  int             // slots per stripe, padded to keep stripes apart
	stripes uint            // a power of two
	succ    []atomic.Uint64 // per stripe, per bucket: tag<<32 | count
	runOn   atomic.Bool     // the run is not empty: a success must end it

	// Guarded by the host's mutex.
	fail []slot // failures per bucket
	run  []slot // failures of the current run per bucket
}

// slot is a count tagged with the bucket it belongs to.
type slot struct {
	tag   int64 // bucket+1; 0 is empty
	count int64
}

// tag returns the tag of bucket b in a success slot: its low 32 bits plus
// one, so that 0 means empty.
func tag(b int64) uint64 { return uint64(uint32(b)+1) << 32 }

func newWindow(buckets int64) window {
	stripes := uint(8)
	for stripes < 2*uint(runtime.GOMAXPROCS(0)) && stripes < 64 {
		stripes *= 2
	}
	stride := (int(buckets) + 7) &^ 7 // whole cache lines of 8 slots
	stride += 8                       // and one more between stripes
	return window{
		n:       buckets,
		stride:  stride,
		stripes: stripes,
		succ:    make([]atomic.Uint64, int(stripes)*stride),
		fail:    make([]slot, buckets),
		run:     make([]slot, buckets),
	}
}

// success counts a success in bucket b.
func (w *window) success(b int64) {
	s := &w.succ[int(stripe()&(w.stripes-1))*w.stride+int(b%w.n)]
	t := tag(b)
	for {
		v := s.Load()
		if v&^0xffffffff == t {
			s.Add(1)
			return
		}
		if s.CompareAndSwap(v, t|1) {
			return
		}
	}
}

// stripe returns a number that differs between goroutines and stays the
// same for one: the address of a variable on its stack, hashed. A goroutine
// keeps hitting the same stripe, which stays in its processor's cache.
func stripe() uint {
	var x byte
	return uint((uint64(uintptr(unsafe.Pointer(&x))>>10) * 0x9e3779b97f4a7c15) >> 58)
}

// successes returns the successes in the window that ends with bucket b.
func (w *window) successes(b int64) int64 {
	var n int64
	now := uint32(b) + 1
	for i := range w.succ {
		v := w.succ[i].Load()
		if t := uint32(v >> 32); t != 0 && int64(now-t) < w.n {
			n += int64(v & 0xffffffff)
		}
	}
	return n
}

// failure counts a failure in bucket b and returns the failures in the
// window and the length of the run within it. The host's mutex is held.
func (w *window) failure(b int64) (failures, run int64) {
	add(w.fail, b)
	add(w.run, b)
	w.runOn.Store(true)
	return w.sum(w.fail, b), w.sum(w.run, b)
}

// failures returns the failures in the window and the length of the run
// within it, at bucket b. The host's mutex is held.
func (w *window) failures(b int64) (failures, run int64) {
	return w.sum(w.fail, b), w.sum(w.run, b)
}

// endRun ends the run of failures. The host's mutex is held.
func (w *window) endRun() {
	clear(w.run)
	w.runOn.Store(false)
}

// reset forgets every count. The host's mutex is held.
func (w *window) reset() {
	for i := range w.succ {
		w.succ[i].Store(0)
	}
	clear(w.fail)
	w.endRun()
}

func add(slots []slot, b int64) {
	s := &slots[b%int64(len(slots))]
	if s.tag != b+1 {
		*s = slot{tag: b + 1}
	}
	s.count++
}

func (w *window) sum(slots []slot, b int64) int64 {
	var n int64
	for _, s := range slots {
		if s.tag != 0 && b+1-s.tag < w.n && s.tag <= b+1 {
			n += s.count
		}
	}
	return n
}
