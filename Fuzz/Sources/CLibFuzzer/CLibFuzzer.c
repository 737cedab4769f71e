// Only the declaration in include/CLibFuzzer.h matters; SwiftPM wants a source file.
#include "CLibFuzzer.h"
