// berth-shim's entry point (cmd/berth-shim/main.cc calls it): `berth-shim STATE_DIR`, started by
// spawn() with the report pipe on fd 3 and the options in STATE_DIR/shim.json.
#pragma once

namespace berth::shim {

int shim_main(int argc, char** argv);

}  // namespace berth::shim
