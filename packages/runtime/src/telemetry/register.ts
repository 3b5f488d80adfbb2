// Preloaded with `node --require @hotpin/runtime/register` so instrumentation patches
// @grpc/grpc-js and http before any application module requires them.
import { startTelemetry } from "./sdk";

startTelemetry();
