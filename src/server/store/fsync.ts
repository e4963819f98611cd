import { open } from 'node:fs/promises';

/** Flushes a file, or a directory's entries, to disk (fsync), so that a rename or unlink after it survives a crash. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
