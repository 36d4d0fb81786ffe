// The vortex client library as plugin modules import it ("@peek/vortex", through the
// app's import map): defineTuple and friends, the same copy the shell runs.
export * from "@peek/vortex";
