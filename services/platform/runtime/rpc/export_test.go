package rpc

// Pending is the number of requests the codec marked undecodable that no interceptor has
// refused yet: zero between calls.
func Pending() int64 { return undecodable.n.Load() }
