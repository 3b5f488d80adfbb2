#!/usr/bin/env node
// hotpin-sim entry point; the simulator is being written.
process.exit(1);
