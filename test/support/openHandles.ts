/**
 * A Mocha root hook: after the last test, the test process must be free to exit. Anything a test left
 * running (a server, a socket, a child process, a worker thread, an interval) would keep Hardhat's test
 * task alive after its summary and hang CI; instead, when something still holds the process a few
 * seconds after the run, this lists what and exits with a failure.
 */
const GRACE_MS = 15_000;

/** Kinds of active resources that do not hold the process open by themselves, or are the terminal's. */
const BENIGN = new Set(["TTYWrap", "PipeWrap", "FSReqCallback", "FSReqPromise", "Immediate"]);

export const mochaHooks = {
  afterAll(): void {
    const timer = setTimeout(() => {
      const held = process.getActiveResourcesInfo().filter((kind) => !BENIGN.has(kind));
      process.stderr.write(
        `\nThe test run finished ${GRACE_MS / 1000} s ago, but something it started still holds the ` +
          `process: ${held.join(", ") || "(unknown)"}. A test leaked it; exiting with a failure.\n`,
      );
      process.exit(1);
    }, GRACE_MS);
    timer.unref();
  },
};
