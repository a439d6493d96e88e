// Package bench holds edgeplace's benchmarks. Run them with `go test -bench`
// from this directory; each reports ns/op, B/op and allocs/op, plus ns/node
// so that plugins can be compared at any cluster size.
package bench
