package readmap

import (
	"fmt"
	"sync"
	"testing"
)

func TestLoadOrStore(t *testing.T) {
	var m Map[string, int]
	if _, ok := m.Load("a"); ok {
		t.Fatal("empty map found a")
	}
	calls := 0
	create := func(v int) func(int) (int, bool) {
		return func(int) (int, bool) { calls++; return v, true }
	}
	if got := m.LoadOrStore("a", create(1)); got != 1 {
		t.Fatalf("LoadOrStore(a) = %d, want 1", got)
	}
	if got := m.LoadOrStore("a", create(2)); got != 1 || calls != 1 {
		t.Fatalf("second LoadOrStore(a) = %d with %d calls, want 1 with 1", got, calls)
	}
	if got := m.LoadOrStore("b", func(n int) (int, bool) { return n * 10, false }); got != 10 {
		t.Fatalf("unstored value = %d, want 10 (n = 1)", got)
	}
	if _, ok := m.Load("b"); ok {
		t.Fatal("a value create declined to store was stored")
	}
	if m.Len() != 1 {
		t.Fatalf("Len = %d, want 1", m.Len())
	}
}

func TestDeleteAndReadd(t *testing.T) {
	var m Map[int, string]
	for i := range 100 {
		m.LoadOrStore(i, func(int) (string, bool) { return fmt.Sprint("v", i), true })
	}
	// Enough lookups to move everything into the snapshot.
	for range 3 {
		for i := range 100 {
			m.Load(i)
		}
	}
	m.Delete(7)
	if _, ok := m.Load(7); ok {
		t.Fatal("deleted key still found")
	}
	if m.Len() != 99 {
		t.Fatalf("Len after delete = %d, want 99", m.Len())
	}
	if got := m.LoadOrStore(7, func(int) (string, bool) { return "new", true }); got != "new" {
		t.Fatalf("re-added key = %q, want new", got)
	}
	if got, _ := m.Load(7); got != "new" {
		t.Fatalf("Load of re-added key = %q, want new", got)
	}
	seen := 0
	m.Range(func(int, string) bool { seen++; return true })
	if seen != 100 {
		t.Fatalf("Range saw %d entries, want 100", seen)
	}
	m.Clear()
	if m.Len() != 0 {
		t.Fatalf("Len after Clear = %d", m.Len())
	}
}

// TestSnapshotServesLookups checks that established keys end up in the
// lock-free snapshot: after enough lookups, a lookup does not take the lock.
func TestSnapshotServesLookups(t *testing.T) {
	var m Map[int, int]
	for i := range 1000 {
		m.LoadOrStore(i, func(int) (int, bool) { return i, true })
	}
	for range 3 {
		for i := range 1000 {
			m.Load(i)
		}
	}
	m.mu.Lock() // a lookup that needed the lock would now block forever
	defer m.mu.Unlock()
	for i := range 1000 {
		if v, ok := m.Load(i); !ok || v != i {
			t.Fatalf("Load(%d) = %d, %v", i, v, ok)
		}
	}
}

// TestInsertionIsAmortised bounds the work of many insertions each followed
// by lookups: a copy-on-write map copies the whole map per insertion.
func TestInsertionIsAmortised(t *testing.T) {
	var m Map[int, int]
	copied := 0
	const n = 20000
	for i := range n {
		m.LoadOrStore(i, func(int) (int, bool) { return i, true })
		m.Load(i)
		before := m.read.Load()
		m.Load(i)
		if after := m.read.Load(); after != before && after != nil {
			copied += len(*after)
		}
	}
	// Each rebuild is paid for by as many misses as there are entries, and
	// every insertion above makes at most two: the copies add up to a
	// small multiple of n, where copy-on-write would copy n²/2 entries.
	if copied > 4*n {
		t.Fatalf("%d insertions copied %d entries, want at most %d", n, copied, 4*n)
	}
}

func TestConcurrent(t *testing.T) {
	var m Map[int, *int]
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (i * (g + 1)) % 500
				v := m.LoadOrStore(k, func(int) (*int, bool) { x := k; return &x, true })
				if *v != k {
					t.Errorf("key %d holds %d", k, *v)
					return
				}
				if i%97 == 0 {
					m.Delete(k)
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkLoad(b *testing.B) {
	var m Map[string, int]
	for i := range 100 {
		m.LoadOrStore(fmt.Sprint("host", i), func(int) (int, bool) { return i, true })
	}
	for range 3 {
		for i := range 100 {
			m.Load(fmt.Sprint("host", i))
		}
	}
	k := "host42"
	for b.Loop() {
		if _, ok := m.Load(k); !ok {
			b.Fatal("missing")
		}
	}
}
