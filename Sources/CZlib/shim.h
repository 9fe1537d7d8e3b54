#ifndef LUZ_CZLIB_SHIM_H
#define LUZ_CZLIB_SHIM_H
#include <zlib.h>
#endif
