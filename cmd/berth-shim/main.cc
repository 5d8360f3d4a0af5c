// berth-shim: the per-container monitor (see src/shim/shim_main.h).
#include "shim/shim_main.h"

int main(int argc, char** argv) {
  return berth::shim::shim_main(argc, argv);
}
