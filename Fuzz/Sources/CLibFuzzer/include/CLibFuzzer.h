#ifndef MIDGE_CLIBFUZZER_H
#define MIDGE_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (libclang_rt.fuzzer_no_main): parses libFuzzer's command line and
/// runs `callback` on every input. The harnesses call it from their own `main`, because
/// SwiftPM links an executable's entry point as `main` and libFuzzer's `main` would clash.
int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*callback)(const uint8_t *data, size_t size));

#endif
