import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { fsyncDir, writeAllAt } from './files.js';
import { CorruptionError, type Snapshot, type SnapshotMeta } from './storage.js';

/**
 * A snapshot file `snap-<index>.snap` (index: 16 decimal digits) holds one
 * snapshot (§7), checksummed in 64 KiB chunks so that damage is located:
 *
 * ```
 * header  = magic "xraftSNP" | version u16 | index f64 | term f64 | length f64 | crc32c(header) u32
 * data    = length bytes
 * table   = crc32c of each 64 KiB chunk of data, u32 each | crc32c(table) u32
 * ```
 *
 * It is written to `<name>.tmp`, synced, renamed into place and the directory
 * synced, so a crash leaves either the old snapshot or the new one, never a
 * mix; a leftover `.tmp` was never acknowledged and is removed on load.
 *
 * A snapshot being installed from the leader (§7) is first written the same
 * way to `snap-<index>.install`, and renamed to `snap-<index>.snap` only after
 * the log records the install (`DiskStorage.installSnapshot`).
 */

const MAGIC = Buffer.from('xraftSNP', 'latin1');
const VERSION = 1;
const HEADER = 8 + 2 + 8 + 8 + 8;
const CHUNK = 64 * 1024;

/** SNAPSHOT_FILE matches snapshot file names; group 1 is the index. */
export const SNAPSHOT_FILE = /^snap-(\d{16})\.snap$/;

/** INSTALL_FILE matches staged install files; group 1 is the index. */
export const INSTALL_FILE = /^snap-(\d{16})\.install$/;

/** snapshotFileName names the file of a snapshot covering `index`. */
export function snapshotFileName(index: number): string {
  return `snap-${String(index).padStart(16, '0')}.snap`;
}

/** installFileName names the staged file of a snapshot covering `index` while it is being installed. */
export function installFileName(index: number): string {
  return `snap-${String(index).padStart(16, '0')}.install`;
}

/** writeSnapshotFile stores `snapshot` at `path` atomically and durably (temp file, sync, rename, sync dir). */
export async function writeSnapshotFile(path: string, snapshot: Snapshot): Promise<void> {
  const { meta, data } = snapshot;
  const header = Buffer.alloc(HEADER + 4);
  MAGIC.copy(header, 0);
  header.writeUInt16LE(VERSION, 8);
  header.writeDoubleLE(meta.index, 10);
  header.writeDoubleLE(meta.term, 18);
  header.writeDoubleLE(data.length, 26);
  header.writeUInt32LE(crc32c(header.subarray(0, HEADER)), HEADER);
  const chunks = Math.ceil(data.length / CHUNK);
  const table = Buffer.alloc(chunks * 4 + 4);
  for (let i = 0; i < chunks; i++) {
    table.writeUInt32LE(crc32c(data.subarray(i * CHUNK, Math.min(data.length, (i + 1) * CHUNK))), i * 4);
  }
  table.writeUInt32LE(crc32c(table.subarray(0, chunks * 4)), chunks * 4);

  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await writeAllAt(fh, [header, data, table], 0);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

/** readSnapshotFile reads and verifies a snapshot file; throws CorruptionError naming the damaged byte range. */
export async function readSnapshotFile(path: string): Promise<Snapshot> {
  const buf = await readFile(path);
  const bad = (offset: number, detail: string) => new CorruptionError(path, offset, `snapshot ${detail}`);
  if (buf.length < HEADER + 4) throw bad(0, `file is ${buf.length} bytes, shorter than its header`);
  if (!buf.subarray(0, 8).equals(MAGIC))
    throw bad(0, 'file does not start with the snapshot magic "xraftSNP"');
  const storedHeader = buf.readUInt32LE(HEADER);
  if (crc32c(buf.subarray(0, HEADER)) !== storedHeader) throw bad(0, 'header checksum mismatch');
  const version = buf.readUInt16LE(8);
  if (version !== VERSION)
    throw bad(8, `format version ${version} is not ${VERSION}, the one this build reads`);
  const index = buf.readDoubleLE(10);
  const term = buf.readDoubleLE(18);
  const length = buf.readDoubleLE(26);
  for (const [at, n] of [
    [10, index],
    [18, term],
    [26, length],
  ] as const) {
    if (!Number.isSafeInteger(n) || n < 0) throw bad(at, `header holds ${n} where a count belongs`);
  }
  const named = SNAPSHOT_FILE.exec(basename(path)) ?? INSTALL_FILE.exec(basename(path));
  if (named !== null && Number(named[1]) !== index) {
    throw bad(10, `header says index ${index} but the file name says ${Number(named[1])}`);
  }
  const chunks = Math.ceil(length / CHUNK);
  const dataAt = HEADER + 4;
  const tableAt = dataAt + length;
  const expected = tableAt + chunks * 4 + 4;
  if (buf.length !== expected) {
    throw bad(
      Math.min(buf.length, expected),
      `file is ${buf.length} bytes, but its header promises ${expected} (truncated or extended)`,
    );
  }
  const table = buf.subarray(tableAt, tableAt + chunks * 4);
  if (crc32c(table) !== buf.readUInt32LE(tableAt + chunks * 4)) throw bad(tableAt, 'checksum table mismatch');
  for (let i = 0; i < chunks; i++) {
    const from = dataAt + i * CHUNK;
    const to = Math.min(tableAt, from + CHUNK);
    if (crc32c(buf.subarray(from, to)) !== table.readUInt32LE(i * 4)) {
      throw bad(from, `data checksum mismatch in bytes [${from}, ${to})`);
    }
  }
  const meta: SnapshotMeta = { index, term };
  return { meta, data: new Uint8Array(buf.buffer, buf.byteOffset + dataAt, length) };
}

/** removeFile deletes `path` if it exists. */
export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
