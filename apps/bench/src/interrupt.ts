/**
 * Ctrl-C: stop what is running (clusters remove their temporary data
 * directories, generator threads and child processes end), then exit 130. A
 * second Ctrl-C exits at once.
 */

type Cleanup = () => unknown;
const cleanups = new Set<Cleanup>();
let installed = false;
let interrupting = false;

/** Longest the cleanups may take before the process exits anyway. */
const CLEANUP_TIMEOUT_MS = 10_000;

/** onInterrupt runs `cleanup` on SIGINT (or SIGTERM) before exiting; returns the function that removes it. */
export function onInterrupt(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  if (!installed) {
    installed = true;
    process.on('SIGINT', interrupt);
    process.on('SIGTERM', interrupt);
  }
  return () => {
    cleanups.delete(cleanup);
  };
}

function interrupt(): void {
  if (interrupting) process.exit(130);
  interrupting = true;
  process.stderr.write('\ninterrupted: stopping (Ctrl-C again to exit at once)\n');
  const timer = setTimeout(() => process.exit(130), CLEANUP_TIMEOUT_MS);
  timer.unref();
  void Promise.allSettled([...cleanups].map(async (c) => c())).then(() => process.exit(130));
}
