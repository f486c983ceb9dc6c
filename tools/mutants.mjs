#!/usr/bin/env node
// Bug injection: plants each classic Raft bug in @xraft/core, runs the test suite,
// and checks that at least one test fails. The source is restored after every
// mutant, also on Ctrl-C. Run: `pnpm mutants [name...]` (several minutes).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = (f) => `${root}packages/core/src/${f}`;

/** Each mutant: a file and exact text replacements that plant one bug. */
export const MUTANTS = [
  {
    name: 'vote-twice',
    bug: 'a server votes for any candidate of the current term, even after voting for another',
    file: 'election.ts',
    edits: [
      [
        'const free = m.term > r.term || r.vote === m.from || (r.vote === null && r.leaderId === null);',
        'const free = true;',
      ],
    ],
  },
  {
    name: 'skip-up-to-date-check',
    bug: 'votes are granted without the election restriction (§5.4.1)',
    file: 'election.ts',
    edits: [['return free && r.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);', 'return free;']],
  },
  {
    name: 'commit-old-term-by-counting',
    bug: "the leader commits an earlier term's entry once it is on a majority (Figure 8)",
    file: 'leader.ts',
    edits: [
      [
        'if (index <= r.log.committed || r.log.term(index) !== r.term) return false;',
        'if (index <= r.log.committed) return false;',
      ],
    ],
  },
  {
    name: 'truncate-matching-suffix',
    bug: 'a follower drops everything after prevLogIndex before appending, even entries that match',
    file: 'log.ts',
    edits: [
      [
        '    const lastNew = prevIndex + entries.length;\n',
        '    const lastNew = prevIndex + entries.length;\n    if (prevIndex < this.lastIndex()) this.truncateFrom(prevIndex + 1);\n',
      ],
    ],
  },
  {
    name: 'reply-before-persist',
    bug: 'votes and append acknowledgements leave before the state they promise is durable',
    file: 'raft.ts',
    edits: [
      [
        '  send(m: Message): void {\n    this.messages.push(m);',
        '  send(m: Message): void {\n    this.earlyMessages.push(m);',
      ],
    ],
  },
  {
    name: 'no-step-down-on-higher-term',
    bug: 'a leader ignores responses carrying a higher term and keeps leading',
    file: 'machine.ts',
    edits: [
      [
        "    AppendEntriesResponse: [{ guard: 'isHigherTerm', target: '.follower', actions: 'stepDown' }],\n",
        '',
      ],
      ["    HeartbeatResponse: [{ guard: 'isHigherTerm', target: '.follower', actions: 'stepDown' }],\n", ''],
      [
        "    RequestVote: { guard: 'breaksLease' },\n        PreVote: { guard: 'breaksLease' },\n        AppendEntriesResponse",
        "    RequestVote: {},\n        PreVote: { guard: 'breaksLease' },\n        AppendEntriesResponse",
      ],
    ],
  },
  {
    name: 'forget-no-op',
    bug: 'a new leader does not append a no-op entry of its term',
    file: 'leader.ts',
    edits: [
      [
        "  appendEntries(r, [{ index: next, term: r.term, type: 'noop', data: EMPTY_DATA }]);\n",
        '  void EMPTY_DATA;\n',
      ],
    ],
  },
];

function applyMutant(m) {
  const path = src(m.file);
  const original = readFileSync(path, 'utf8');
  let text = original;
  for (const [from, to] of m.edits) {
    if (!text.includes(from)) throw new Error(`mutant ${m.name}: pattern not found in ${m.file}:\n${from}`);
    text = text.replace(from, to);
  }
  writeFileSync(path, text);
  return () => writeFileSync(path, original);
}

const wanted = process.argv.slice(2);
const mutants = wanted.length ? MUTANTS.filter((m) => wanted.includes(m.name)) : MUTANTS;
if (wanted.length && mutants.length !== wanted.length) {
  console.error(`unknown mutant; choose from: ${MUTANTS.map((m) => m.name).join(', ')}`);
  process.exit(2);
}

let restore = null;
const onSignal = () => {
  restore?.();
  process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const results = [];
for (const m of mutants) {
  restore = applyMutant(m);
  const started = Date.now();
  let out;
  try {
    out = spawnSync('npx', ['vitest', 'run', 'packages/core', 'packages/sim', '--reporter=dot'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      timeout: 15 * 60_000,
    });
  } finally {
    restore();
    restore = null;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
  const text = `${out.stdout}\n${out.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
  const failedTests = [...text.matchAll(/(?:FAIL|×)\s+(.+?)(?:\s+\d+m?s)?$/gm)].map((x) => x[1].trim());
  const caught = out.status !== 0;
  results.push({ name: m.name, caught, failedTests, seconds: Math.round((Date.now() - started) / 1000) });
  console.log(`${caught ? 'caught  ' : 'SURVIVED'} ${m.name} (${m.bug}) in ${results.at(-1).seconds}s`);
  for (const t of [...new Set(failedTests)].slice(0, 6)) console.log(`    ${t}`);
}
const survived = results.filter((r) => !r.caught);
console.log(`\n${results.length - survived.length}/${results.length} mutants caught`);
process.exit(survived.length === 0 ? 0 : 1);
