// The contracts' versioned JSON Schemas: every published version a file of its own, the latest the one RTDS validates, documents and stamps on what it produces.
import decisionV1 from './schemas/decision.v1.json' with { type: 'json' };
import eventV1 from './schemas/event.v1.json' with { type: 'json' };
import labelV1 from './schemas/label.v1.json' with { type: 'json' };

/**
 * Each contract's versions, oldest first; version n is entry n − 1 and the last is current. A
 * change to a contract is a new file here, backward compatible with the one before it
 * (compatibility.ts, checked by test/contracts/compatibility.test.ts), never an edit of a published
 * one: producers and readers elsewhere hold those.
 */
const VERSIONS = {
  event: [eventV1],
  decision: [decisionV1],
  label: [labelV1],
} as const;

export type ContractName = keyof typeof VERSIONS;
export const CONTRACT_NAMES = Object.keys(VERSIONS) as ContractName[];

/** A JSON Schema document as RTDS keeps them: an object with an `$id`. */
export type ContractSchema = (typeof VERSIONS)[ContractName][number];

export function isContractName(name: string): name is ContractName {
  return Object.hasOwn(VERSIONS, name);
}

/** The versions of a contract, oldest first. */
export function contractVersions<N extends ContractName>(name: N): readonly (typeof VERSIONS)[N][number][] {
  return VERSIONS[name];
}

/** The number of the current version: the latest. */
export function currentVersion(name: ContractName): number {
  return VERSIONS[name].length;
}

/** The schema RTDS works with now. */
export function currentSchema<N extends ContractName>(name: N): (typeof VERSIONS)[N][number] {
  return VERSIONS[name][VERSIONS[name].length - 1]!;
}

/** Version `version` of a contract, or undefined when there is none. */
export function contractSchema(name: ContractName, version: number): ContractSchema | undefined {
  return Number.isInteger(version) && version >= 1 ? VERSIONS[name][version - 1] : undefined;
}

/**
 * The Kafka record header naming the contract and version of a record's value (`event/1`). RTDS
 * stamps what it produces; readers do not require it, as records from other producers, and from
 * RTDS before the header existed, come without.
 */
export const CONTRACT_HEADER = 'rtds.contract';

const headerOf = (name: ContractName): Readonly<Record<string, string>> => Object.freeze({ [CONTRACT_HEADER]: `${name}/${currentVersion(name)}` });

/** One object per contract, shared by every record. */
const CONTRACT_HEADERS: Readonly<Record<ContractName, Readonly<Record<string, string>>>> = { event: headerOf('event'), decision: headerOf('decision'), label: headerOf('label') };

/** The headers of a record holding `name` at its current version: `headers` (a trace's) with the contract's added. */
export function contractHeaders(name: ContractName, headers?: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  return headers === undefined ? CONTRACT_HEADERS[name] : { ...headers, ...CONTRACT_HEADERS[name] };
}
