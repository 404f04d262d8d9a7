#include "netlab/io/memory.h"

#include <malloc.h>

namespace netlab {

void returnFreedMemory() {
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
}

}  // namespace netlab
