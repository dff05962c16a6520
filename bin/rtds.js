#!/usr/bin/env -S node --max-semi-space-size=64
// Semi-spaces of up to 64 MB for the young generation: the pipeline allocates short-lived objects
// per event, and fewer, larger scavenges free them for less — about a quarter as many scavenges, no
// full collection while deciding at 5,000 events/s (embedded p99 8-10 ms instead of 26-69), and the
// core 1.10-1.15x as fast (docs/benchmarks.md). V8 takes the size only at start, so it is a flag
// here and in package.json's scripts, not a setting.
// The `rtds` command: runs the TypeScript sources through tsx's loader, so there is no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
