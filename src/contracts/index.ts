// The contracts every stage shares: event, decision, label.
export * from './event.ts';
export * from './decision.ts';
export * from './label.ts';
