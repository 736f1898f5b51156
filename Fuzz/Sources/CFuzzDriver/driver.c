// Forwards to LLVMFuzzerRunDriver from the toolchain's libclang_rt.fuzzer (linked by -sanitize=fuzzer).
#include "CFuzzDriver.h"

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size));

int fuzz_run(int argc, char **argv, FuzzTestOneInput test) {
    return LLVMFuzzerRunDriver(&argc, &argv, test);
}
