import { afterEach, expect, test, vi } from 'vitest';
import { simulate } from '../src/simulate.js';

afterEach(() => {
  vi.restoreAllMocks();
});

test('xraft simulate runs a simulated cluster and reports elections, faults and the safety verdict', async () => {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.join(' '));
  });
  const code = await simulate({ nodes: 5, seed: 7, faults: 'heavy', duration: 5, speed: 0, verbose: false });
  const out = lines.join('\n');
  expect(code).toBe(0);
  expect(out).toMatch(/n\d elected leader of term \d+/);
  expect(out).toMatch(/crashed|partition|paused/);
  expect(out).toMatch(/committed up to index \d+/);
  expect(out).toContain('state machine safety held after every one of');
});
