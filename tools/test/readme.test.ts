import { readFileSync } from 'node:fs';
import { raftMachine, statechartToMermaid } from '@xraft/core';
import { expect, test } from 'vitest';
// @ts-expect-error plain ESM helper without types
import { extractDiagram } from '../readme-diagram.mjs';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('README opens with the two commands: install + main job, then the tests', () => {
  const blocks = [...readme.matchAll(/```(?:sh|bash)\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
  expect(blocks[0]).toBe('npm install -g pnpm@10.34.8 && pnpm install && pnpm start');
  expect(blocks[1]).toBe('pnpm test');
  expect(readme.indexOf(blocks[0]!)).toBeLessThan(readme.indexOf('## '));
});

test('the README statechart is generated from the machine (run `pnpm diagram` after changing it)', () => {
  expect(extractDiagram(readme)).toBe(statechartToMermaid(raftMachine));
});
