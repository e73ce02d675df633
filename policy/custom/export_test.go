package custom

// SetHeapLimit sets the heap growth an evaluation may cause and returns a
// function that restores the previous limit.
func SetHeapLimit(limit uint64) (restore func()) {
	prev := evalHeapLimit
	evalHeapLimit = limit
	return func() { evalHeapLimit = prev }
}
