// Package bench measures Discret: the load generator behind `discret bench
// serve`, training time and memory behind `discret bench train`, and the
// offline quality sweep behind `discret bench quality`. Each is a Config
// and a function that runs it; cmd/discret binds them to flags. The Go
// benchmarks of this package (go test -bench . ./bench) cover the
// cross-package steps of the serving hot path and the machine's memory
// bandwidth; BENCHMARKS.md at the repository root lists every figure with
// the command that reproduces it.
package bench
