#ifndef MIDGE_CLZ4_SHIM_H
#define MIDGE_CLZ4_SHIM_H
#include <lz4.h>
#endif
