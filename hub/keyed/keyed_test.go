package keyed

import (
	"sync"
	"testing"
)

// A key's holders exclude each other, other keys do not wait for them, and
// a key nobody holds or waits for is forgotten.
func TestLocks(t *testing.T) {
	var k Locks
	unlock := k.Lock(1)
	other := make(chan struct{})
	go func() { k.Lock(2)(); close(other) }()
	<-other // key 2 is free while key 1 is held

	var mu sync.Mutex
	inside := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer k.Lock(1)()
			mu.Lock()
			inside++
			if inside != 1 {
				t.Errorf("%d holders of one key at once", inside)
			}
			mu.Unlock()
			mu.Lock()
			inside--
			mu.Unlock()
		}()
	}
	unlock()
	wg.Wait()
	if n := k.Len(); n != 0 {
		t.Errorf("%d keys kept after every holder left, want 0", n)
	}
}
