// One process at a time on the embedded database: a lock file holding the owner's pid, created exclusively, taken over when its owner is dead.
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { DatabaseLockedError } from './database-errors.ts';

/** Held until `release`; also released when the process exits without releasing it (a crash leaves a file whose pid is dead). */
export interface EmbeddedLock {
  release(): void;
}

/** Whether process `pid` runs: signal 0 checks without sending anything (EPERM: it runs, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in a lock file; undefined when it holds none (a writer that died between creating and writing it). */
function ownerOf(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Takes `file` for this process, or throws a DatabaseLockedError naming the live process that
 * holds it — this process too, when it opened the database already. A file whose pid is dead (or
 * that holds none) is stale and taken over; of two processes taking it over at once, the exclusive
 * create lets one win.
 */
export function lockEmbeddedDatabase(file: string): EmbeddedLock {
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = ownerOf(file);
      if (owner !== undefined && alive(owner)) throw new DatabaseLockedError(file, owner);
      // Stale: its owner is gone. Once only: a second EEXIST means another process took it meanwhile.
      if (attempt > 0) throw new DatabaseLockedError(file, owner ?? 0);
      try {
        unlinkSync(file);
      } catch (unlinkErr) {
        if ((unlinkErr as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkErr;
      }
    }
  }
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    // Only our own: a file another process took over after a crash of ours is theirs.
    if (ownerOf(file) === process.pid) unlinkSync(file);
  };
  process.on('exit', release);
  return { release };
}
