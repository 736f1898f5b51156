// Runs libFuzzer's driver on a test-one-input callback. SwiftPM links every executable with
// main = <module>_main, so libFuzzer's own main is never used; each target's @main calls this.
#ifndef CFUZZDRIVER_H
#define CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>

/// The libFuzzer entry point for one input: 0 to continue.
typedef int (*FuzzTestOneInput)(const uint8_t *data, size_t size);

/// Runs libFuzzer with the process arguments (flags such as -runs=N, corpus directories).
int fuzz_run(int argc, char **argv, FuzzTestOneInput test);

#endif
