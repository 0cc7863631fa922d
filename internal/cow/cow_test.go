package cow

import (
	"sync"
	"testing"
)

func TestMap(t *testing.T) {
	var m Map[string, int]
	if _, ok := m.Load("a"); ok || m.Len() != 0 {
		t.Fatal("zero map not empty")
	}
	calls := 0
	create := func(n int) (int, bool) { calls++; return n + 10, true }
	if v := m.LoadOrStore("a", create); v != 10 {
		t.Fatalf("a = %d", v)
	}
	if v := m.LoadOrStore("a", create); v != 10 || calls != 1 {
		t.Fatalf("second LoadOrStore: %d after %d calls", v, calls)
	}
	if v := m.LoadOrStore("b", create); v != 11 || m.Len() != 2 {
		t.Fatalf("b = %d, len %d", v, m.Len())
	}
	// A value not stored is returned but not kept.
	if v := m.LoadOrStore("c", func(int) (int, bool) { return 99, false }); v != 99 || m.Len() != 2 {
		t.Fatalf("unstored c = %d, len %d", v, m.Len())
	}
	m.Update(func(mm map[string]int) { delete(mm, "a") })
	if _, ok := m.Load("a"); ok || m.Len() != 1 {
		t.Fatal("Update did not delete")
	}
	seen := 0
	m.Range(func(string, int) bool { seen++; return true })
	if seen != 1 {
		t.Fatalf("Range saw %d", seen)
	}
}

func TestMapConcurrent(t *testing.T) {
	var m Map[int, int]
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (i + g) % 50
				if v := m.LoadOrStore(k, func(int) (int, bool) { return k * 2, true }); v != k*2 {
					t.Errorf("key %d = %d", k, v)
					return
				}
			}
		})
	}
	wg.Wait()
	if m.Len() != 50 {
		t.Fatalf("len = %d", m.Len())
	}
}

func BenchmarkLoad(b *testing.B) {
	var m Map[string, int]
	m.LoadOrStore("gateway:8080", func(int) (int, bool) { return 1, true })
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Load("gateway:8080")
		}
	})
}
