import { InvalidArgumentError } from 'commander';
import { describe, expect, test } from 'vitest';
import { encodeHistogram, mergeHistograms, newHistogram, summarize } from '../src/histogram.js';
import {
  coreCounts,
  expand,
  parseCores,
  parseIntIn,
  parseList,
  type ThroughputOptions,
} from '../src/options.js';

const base: ThroughputOptions = {
  workloads: ['put', 'mixed'],
  readRatio: 0.5,
  values: [16, 1024],
  clients: [1, 64],
  nodes: [3],
  storages: ['memory'],
  rates: null,
  durationS: 1,
  warmupS: 0,
  keys: 10,
  generators: 'auto',
  timeoutMs: 1000,
  cores: 'off',
  out: 'x',
  quick: false,
};

describe('options', () => {
  test('list flags expand to their cross product, clients varying fastest', () => {
    const runs = expand(base, 8);
    expect(runs).toHaveLength(8);
    expect(runs.slice(0, 2).map((r) => [r.workload, r.valueBytes, r.clients])).toEqual([
      ['put', 16, 1],
      ['put', 16, 64],
    ]);
    expect(runs.map((r) => r.readRatio)).toEqual([0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5]);
    // auto: a quarter of the cores, at least one, at most one per client.
    expect(runs.map((r) => r.generators).slice(0, 2)).toEqual([1, 2]);
    expect(expand({ ...base, rates: [100, 200] }, 8)).toHaveLength(16);
  });

  test('parsers take comma lists and refuse what is out of range', () => {
    expect(parseList(parseIntIn(1, 9))('1,3,3,5')).toEqual([1, 3, 5]);
    expect(() => parseList(parseIntIn(1, 9))('1,10')).toThrow(InvalidArgumentError);
    expect(() => parseList(parseIntIn(1, 9))('1,')).toThrow(/empty/);
    expect(parseCores('4,1,2')).toEqual([1, 2, 4]);
    expect(parseCores('all')).toBe('all');
    expect(() => parseCores('many')).toThrow(InvalidArgumentError);
  });

  test('--cores all is 1, 2, 4, … and every core; more cores than there are is refused', () => {
    expect(coreCounts('all', 1)).toEqual([1]);
    expect(coreCounts('all', 2)).toEqual([1, 2]);
    expect(coreCounts('all', 12)).toEqual([1, 2, 4, 8, 12]);
    expect(() => coreCounts([1, 4], 2)).toThrow(/at most that/);
  });
});

describe('histograms', () => {
  test('encoded histograms merge into the percentiles of all their values', () => {
    const a = newHistogram();
    const b = newHistogram();
    for (let us = 1; us <= 1000; us++) (us % 2 === 0 ? a : b).recordValue(us * 1000);
    const merged = summarize(mergeHistograms([encodeHistogram(a), encodeHistogram(b)]));
    expect(merged.count).toBe(1000);
    expect(merged.p50).toBeCloseTo(500, -1);
    expect(merged.p99).toBeCloseTo(990, -1);
    expect(merged.max).toBeCloseTo(1000, -1);
    expect(summarize(newHistogram()).count).toBe(0);
  });
});
