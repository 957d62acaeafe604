/* stb_image's decoder compiled into the image fuzz target with the target's sanitizers and
   coverage: the same header Debian's libstb is built from (libstb-dev), so the code under
   test is the one the project links; these definitions take precedence over libstb.so's. */
/* 4096 pixels a side at most here (stb's own limit is 2^24): a hostile header may make
   the real decoder fill up to 178 Mpixel (decode_image's cap) from a few bytes, which is
   correct but takes seconds per input and would starve the search. */
#define STBI_MAX_DIMENSIONS 4096
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
