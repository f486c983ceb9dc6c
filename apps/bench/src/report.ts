/**
 * Readable tables of the results (cli-table3), the same figures as the JSON.
 */
import Table from 'cli-table3';
import type { RunResult } from './run.js';

/** ScalingRow is one configuration's throughput at each core count, and its ratio to the fewest cores. */
export interface ScalingRow {
  readonly label: string;
  readonly points: readonly { readonly cores: number; readonly opsPerSec: number; readonly ratio: number }[];
}

const plain = { head: [] as string[], border: [] as string[], compact: true };

/** fmtInt is an integer with thousands separators. */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** fmtMs is a latency in ms with 2–3 significant decimals. */
export function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** fmtBytes is a size in MiB. */
export function fmtMiB(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function errorsText(r: RunResult): string {
  const parts = Object.entries(r.throughput.errors).map(([k, n]) => `${n} ${k}`);
  if (r.throughput.missed > 0) parts.push(`${r.throughput.missed} missed`);
  return parts.length === 0 ? '0' : parts.join(', ');
}

/** runTable is the table of one run: throughput, latency, CPU, RSS, then each node worker and generator. */
export function runTable(r: RunResult, index: number, total: number): string {
  const c = r.config;
  const mode = c.rate === null ? 'closed loop' : `open loop, target ${fmtInt(c.rate)} ops/s`;
  const cores =
    r.cores === null
      ? `${r.coresAvailable} core${r.coresAvailable === 1 ? '' : 's'}`
      : `limited to ${r.cores} core${r.cores === 1 ? '' : 's'} by taskset`;
  const head = `run ${index + 1}/${total}: ${r.label} — ${mode}, ${c.clients} client${c.clients === 1 ? '' : 's'} on ${c.generators} generator thread${c.generators === 1 ? '' : 's'}, ${c.durationS} s after ${c.warmupS} s warm-up, ${cores}`;
  const main = new Table({
    head: ['ops/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'ok', 'errors', 'CPU %', 'RSS'],
    style: plain,
  });
  const l = r.latencyMs;
  main.push([
    fmtInt(r.throughput.opsPerSec),
    fmtMs(l.p50),
    fmtMs(l.p90),
    fmtMs(l.p99),
    fmtMs(l.p999),
    fmtMs(l.max),
    fmtInt(r.throughput.ok),
    errorsText(r),
    r.process.cpuPercent.toFixed(0),
    fmtMiB(r.process.rssMaxBytes),
  ]);
  const threads = new Table({ head: ['thread', 'role', 'event loop util.', 'heap'], style: plain });
  for (const n of r.nodes) {
    threads.push([`node ${n.id}`, n.role, pct(n.elu), n.heapUsedBytes > 0 ? fmtMiB(n.heapUsedBytes) : '—']);
  }
  r.generators.forEach((g, i) => {
    threads.push([`generator ${i + 1}`, `${g.clients} client${g.clients === 1 ? '' : 's'}`, pct(g.elu), '']);
  });
  threads.push(['main', 'supervisor', pct(r.process.mainThreadElu), '']);
  const f = r.raft;
  const perRpc =
    f.entriesPerLeaderRpc === null ? '' : `, ${f.entriesPerLeaderRpc} per leader RPC to each follower`;
  const raft = `raft: ${fmtInt(f.entriesPerSec)} log entries/s committed (${f.writesPerEntry} write${f.writesPerEntry === 1 ? '' : 's'} per entry${perRpc}), ${fmtInt(f.rpcsPerSec)} RPCs/s in ${fmtInt(f.batchesPerSec)} postMessage batches/s, ${(f.bytesPerSec / 2 ** 20).toFixed(1)} MiB/s between nodes`;
  const other =
    r.process.otherCpuPercent === null
      ? ''
      : `\nother processes on this machine used ${r.process.otherCpuPercent.toFixed(0)} % of a core meanwhile`;
  return `${head}\n${main.toString()}\n${threads.toString()}\n${raft}${other}`;
}

/** summaryTable is every run on one row each. */
export function summaryTable(runs: readonly RunResult[]): string {
  const t = new Table({
    head: ['run', 'cores', 'ops/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'errors', 'CPU %', 'RSS'],
    style: plain,
  });
  for (const r of runs) {
    const l = r.latencyMs;
    t.push([
      r.label,
      r.cores === null ? `${r.coresAvailable}` : `${r.cores}`,
      fmtInt(r.throughput.opsPerSec),
      fmtMs(l.p50),
      fmtMs(l.p90),
      fmtMs(l.p99),
      fmtMs(l.p999),
      errorsText(r),
      r.process.cpuPercent.toFixed(0),
      fmtMiB(r.process.rssMaxBytes),
    ]);
  }
  return t.toString();
}

/** scaling groups core-limited runs by configuration: ops/s per core count and the ratio to the fewest cores. */
export function scaling(runs: readonly RunResult[]): ScalingRow[] {
  const byLabel = new Map<string, RunResult[]>();
  for (const r of runs) {
    if (r.cores === null) continue;
    const list = byLabel.get(r.label) ?? [];
    list.push(r);
    byLabel.set(r.label, list);
  }
  return [...byLabel].map(([label, list]) => {
    const sorted = list.sort((a, b) => a.cores! - b.cores!);
    const base = sorted[0]!.throughput.opsPerSec;
    return {
      label,
      points: sorted.map((r) => ({
        cores: r.cores!,
        opsPerSec: r.throughput.opsPerSec,
        ratio: base > 0 ? Math.round((r.throughput.opsPerSec / base) * 100) / 100 : 0,
      })),
    };
  });
}

/** scalingTable shows {@link scaling}: one row per configuration, one column per core count. */
export function scalingTable(rows: readonly ScalingRow[]): string {
  const cores = [...new Set(rows.flatMap((r) => r.points.map((p) => p.cores)))].sort((a, b) => a - b);
  const t = new Table({
    head: ['run', ...cores.map((k) => `${k} core${k === 1 ? '' : 's'}`)],
    style: plain,
  });
  for (const row of rows) {
    t.push([
      row.label,
      ...cores.map((k) => {
        const p = row.points.find((q) => q.cores === k);
        return p === undefined ? '—' : `${fmtInt(p.opsPerSec)} ops/s (x${p.ratio.toFixed(2)})`;
      }),
    ]);
  }
  return t.toString();
}

function pct(x: number): string {
  return `${(x * 100).toFixed(0)} %`;
}
