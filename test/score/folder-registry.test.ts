import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FolderRegistry } from '../../src/score/folder-registry.ts';
import { registryContract } from './registry-contract.ts';

let root: string;
let registries = 0;
registryContract('in a folder', {
  async open() {
    root = await mkdtemp(path.join(os.tmpdir(), 'rtds-folder-registry-'));
    return undefined;
  },
  empty: async (options) => new FolderRegistry(path.join(root, `registry-${++registries}`), options),
  close: () => rm(root, { recursive: true, force: true }),
});
