// The contracts every stage shares: event, decision, label, and the control topic's records.
export * from './event.ts';
export * from './decision.ts';
export * from './body-hash.ts';
export * from './label.ts';
export * from './control.ts';
export * from './json-limits.ts';
export * from './schemas.ts';
export * from './compatibility.ts';
