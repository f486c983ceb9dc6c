/**
 * testSeed is the seed of a random test: a fresh one on every run, or the one
 * in XRAFT_SEED to replay a failure. Tests print it (in their name, messages or
 * output) so any failure can be replayed.
 */
export function testSeed(): number {
  const replay = process.env.XRAFT_SEED;
  if (replay === undefined || replay === '') return (Date.now() ^ (Math.random() * 0x100000000)) >>> 0;
  const seed = Number(replay);
  if (!Number.isInteger(seed))
    throw new Error(`XRAFT_SEED must be an integer, got ${JSON.stringify(replay)}`);
  return seed >>> 0;
}
