#!/usr/bin/env node
// Regenerates the statechart diagram in README.md from the machine itself (run `pnpm diagram`).
import { readFileSync, writeFileSync } from 'node:fs';
import { raftMachine, statechartToMermaid } from '@xraft/core';
import { replaceDiagram } from './readme-diagram.mjs';

const readme = new URL('../README.md', import.meta.url);
const before = readFileSync(readme, 'utf8');
const after = replaceDiagram(before, statechartToMermaid(raftMachine));
if (after === before) console.log('README.md statechart is up to date');
else {
  writeFileSync(readme, after);
  console.log('README.md statechart regenerated');
}
