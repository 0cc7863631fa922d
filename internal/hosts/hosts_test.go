package hosts

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ebb-go/ebb/verdict"
)

type val struct {
	label string
	busy  bool
}

func newTable(max int) *Table[val] {
	return &Table[val]{Max: max, New: func(l string) *val { return &val{label: l} }}
}

func TestFolding(t *testing.T) {
	tb := newTable(0)
	a := tb.Get(verdict.Host{Scheme: "http", Addr: "Example.COM"})
	for _, h := range []verdict.Host{
		{Scheme: "http", Addr: "example.com"},
		{Scheme: "HTTP", Addr: "example.com:80"},
		{Scheme: "http", Addr: "EXAMPLE.com:80"},
	} {
		if got := tb.Get(h); got != a {
			t.Errorf("Get(%v) = %q, want the entry of example.com:80", h, got.label)
		}
	}
	if a.label != "example.com:80" {
		t.Errorf("label = %q, want example.com:80", a.label)
	}
	if b := tb.Get(verdict.Host{Scheme: "https", Addr: "example.com"}); b == a || b.label != "example.com:443" {
		t.Errorf("https host shares the http entry or has label %q", b.label)
	}
	if tb.Len() != 2 {
		t.Errorf("Len = %d, want 2", tb.Len())
	}
}

func TestBoundWithoutEviction(t *testing.T) {
	other := &val{label: "other"}
	tb := newTable(3)
	tb.Overflow = func() *val { return other }
	for i := range 10 {
		v := tb.Get(verdict.Host{Scheme: "http", Addr: fmt.Sprintf("h%d", i)})
		if (i < 3) == (v == other) {
			t.Errorf("host %d got %q", i, v.label)
		}
	}
	if tb.Len() != 3 {
		t.Errorf("Len = %d, want 3", tb.Len())
	}
	// Without an overflow function, hosts beyond the bound get nil.
	tb2 := newTable(1)
	tb2.Get(verdict.Host{Addr: "a"})
	if v := tb2.Get(verdict.Host{Addr: "b"}); v != nil {
		t.Errorf("overflow without Overflow = %v, want nil", v)
	}
}

func TestEviction(t *testing.T) {
	tb := newTable(2)
	tb.Retire = func(v *val) bool { return !v.busy }
	a := tb.Get(verdict.Host{Addr: "a"})
	b := tb.Get(verdict.Host{Addr: "b"})
	a.busy, b.busy = true, true
	if v := tb.Get(verdict.Host{Addr: "c"}); v != nil {
		t.Fatalf("full table of busy hosts gave c %v, want nil", v)
	}
	b.busy = false
	c := tb.Get(verdict.Host{Addr: "c"})
	if c == nil || c.label != "c:80" {
		t.Fatalf("c = %v after b went idle", c)
	}
	// b's spelling is remembered, but its entry is gone: a new one comes.
	if nb := tb.Get(verdict.Host{Addr: "b"}); nb == b {
		t.Fatal("a forgotten entry was returned again")
	}
	if tb.Get(verdict.Host{Addr: "a"}) != a {
		t.Fatal("a busy entry was forgotten")
	}
}

func TestSpellingsBounded(t *testing.T) {
	tb := newTable(2)
	v := tb.Get(verdict.Host{Scheme: "http", Addr: "abcdefgh"})
	// 256 spellings of one host: every mix of upper and lower case.
	for mask := range 256 {
		addr := []byte("abcdefgh")
		for i := range addr {
			if mask&(1<<i) != 0 {
				addr[i] -= 'a' - 'A'
			}
		}
		h := verdict.Host{Scheme: "http", Addr: string(addr)}
		if got := tb.Get(h); got != v {
			t.Fatalf("spelling %v is another host", h)
		}
	}
	if n := tb.nspelt.Load(); n > 8 {
		t.Fatalf("%d spellings remembered, want at most 8 (4 x Max)", n)
	}
	if tb.Len() != 1 {
		t.Fatalf("Len = %d, want 1", tb.Len())
	}
}

func TestGetDoesNotAllocate(t *testing.T) {
	tb := newTable(0)
	hs := []verdict.Host{{Scheme: "http", Addr: "a:1"}, {Scheme: "http", Addr: "b:1"}}
	for _, h := range hs {
		tb.Get(h)
	}
	allocs := testing.AllocsPerRun(100, func() {
		tb.Get(hs[0])
		tb.Get(hs[1])
	})
	if allocs != 0 {
		t.Fatalf("Get allocates %v times", allocs)
	}
}

func TestConcurrent(t *testing.T) {
	var created atomic.Int64
	tb := &Table[val]{Max: 64, New: func(l string) *val { created.Add(1); return &val{label: l} }}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h := verdict.Host{Scheme: "http", Addr: fmt.Sprintf("h%d", (i+g)%32)}
				if v := tb.Get(h); v == nil || v.label != h.Label() {
					t.Errorf("Get(%v) = %v", h, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	if created.Load() != 32 {
		t.Fatalf("created %d values for 32 hosts", created.Load())
	}
}

func BenchmarkGet(b *testing.B) {
	tb := newTable(0)
	h := verdict.Host{Scheme: "http", Addr: "gateway:8080"}
	tb.Get(h)
	b.Run("last", func(b *testing.B) {
		for b.Loop() {
			tb.Get(h)
		}
	})
	h2 := verdict.Host{Scheme: "http", Addr: "other:8080"}
	tb.Get(h2)
	b.Run("alternating", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if i++; i&1 == 0 {
				tb.Get(h)
			} else {
				tb.Get(h2)
			}
		}
	})
}

func TestOverflowRemembered(t *testing.T) {
	other := &val{label: "other"}
	tb := newTable(1)
	tb.Overflow = func() *val { return other }
	tb.Get(verdict.Host{Addr: "a"})
	h := verdict.Host{Addr: "b"}
	if tb.Get(h) != other {
		t.Fatal("b is not in the overflow")
	}
	if allocs := testing.AllocsPerRun(100, func() { tb.Get(h) }); allocs != 0 {
		t.Fatalf("a host in the overflow costs %v allocations per lookup", allocs)
	}
}
