// Labelled synthetic traffic: a seeded stream of realistic events with fraud attacks mixed in, for demos, training and benchmarks.
export { TrafficGenerator, DEFAULT_START, eventTimeRateOf, type TrafficOptions } from './traffic-generator.ts';
export { isoTimestamp } from './timestamp.ts';
export { SCENARIOS, FRAUD_SCENARIOS, type Scenario, type FraudScenario, type GeneratedEvent } from './generated-event.ts';
export { DEFAULT_SCENARIO_MIX } from './scenarios.ts';
export { Prng } from './prng.ts';
export { pace, WALL_CLOCK, type Clock, type PaceOptions } from './pacer.ts';
