// One process at a time on the embedded database: a lock file holding the owner's pid, created exclusively, taken over when its owner is dead.
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { DatabaseLockedError } from './database-errors.ts';

/** Held until `release`; also released when the process exits without releasing it (a crash leaves a file whose pid is dead). */
export interface EmbeddedLock {
  release(): void;
}

/** The owner a lock file names: its pid and, where the system says it, when that process started. */
interface Owner {
  pid: number;
  /** Clock ticks since boot (Linux /proc): with the pid, names one process, where a pid alone is reused. */
  started: string | undefined;
}

/**
 * When process `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat, counted after
 * the command name, which may hold spaces); undefined where there is no /proc or no such process.
 */
function startOf(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether the owner still runs: signal 0 checks without sending anything (EPERM: it runs, as
 * another user); and, where its start time was recorded, a process of that pid started at another
 * time is not it (the owner died, and the system gave its pid to another process).
 */
function alive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (owner.started === undefined) return true;
  const started = startOf(owner.pid);
  return started === undefined || started === owner.started;
}

/** The owner in a lock file (`pid [start]`); undefined when it holds none (a writer that died between creating and writing it). */
function ownerOf(file: string): Owner | undefined {
  try {
    const [pidText, started] = readFileSync(file, 'utf8').trim().split(' ');
    const pid = Number(pidText);
    return Number.isSafeInteger(pid) && pid > 0 ? { pid, started } : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Takes `file` for this process, or throws a DatabaseLockedError naming the live process that
 * holds it — this process too, when it opened the database already. A file whose process is gone
 * (its pid dead, or given to a process started at another time), or that holds none, is stale and
 * taken over; of two processes taking it over at once, the exclusive
 * create lets one win.
 */
export function lockEmbeddedDatabase(file: string): EmbeddedLock {
  const started = startOf('self');
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, `${process.pid}${started === undefined ? '' : ` ${started}`}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = ownerOf(file);
      if (owner !== undefined && alive(owner)) throw new DatabaseLockedError(file, owner.pid);
      // Stale: its owner is gone. Once only: a second EEXIST means another process took it meanwhile.
      if (attempt > 0) throw new DatabaseLockedError(file, owner?.pid ?? 0);
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
    if (ownerOf(file)?.pid === process.pid) unlinkSync(file);
  };
  process.on('exit', release);
  return { release };
}
