// `rtds rules`: rule set versions in the store from the command line — list, add a file, activate, roll back.
import { loadConfig } from '../config/index.ts';
import { DecisionEngine, loadRuleSetFile } from '../decide/index.ts';
import { loadFeatureSet } from '../features/index.ts';
import { parseSubcommand } from './command-line.ts';
import { activateRuleSet, activeRuleSet, openDatabase, rollBackRuleSet, ruleSetVersions, saveRuleSet } from '../store/index.ts';

const HELP = `rtds rules — rule set versions in the store (docs/rules.md)

usage: rtds rules [list]          stored versions; * marks the active one
       rtds rules add <file>      validate and compile a YAML or JSON rule set, and store it (not active)
       rtds rules activate <v>    decide with version v (running processes switch within RTDS_RULES_POLL_MS)
       rtds rules rollback        go back to the version active before the current one

The store is RTDS_DATABASE_URL, else the embedded database under RTDS_DATA_DIR, which only one
process can open: while rtds start runs embedded, use the REST API (POST /api/v1/rules …) instead.`;

export async function runRules(args: string[]): Promise<void> {
  // What each sub-command takes after its name; without one, it lists.
  const parsed = parseSubcommand('rules', HELP, args, { list: [], add: ['file'], activate: ['version'], rollback: [] });
  if (parsed === undefined) return;
  const { command } = parsed;
  const [operand] = parsed.operands;
  const config = loadConfig();
  // Refused here, as the API refuses it: a rule set that will not compile for this deployment's features is never stored.
  const ruleSet = command === 'add' ? loadRuleSetFile(operand!) : undefined;
  if (ruleSet !== undefined) new DecisionEngine(ruleSet, { features: loadFeatureSet(config.featuresFile).names });
  const db = await openDatabase(config);
  try {
    switch (command) {
      case 'list': {
        const active = await activeRuleSet(db);
        const versions = await ruleSetVersions(db);
        if (versions.length === 0) return void console.log('no rule set stored: RTDS_RULES_FILE or the built-in set decides');
        for (const v of versions) console.log(`${v.version === active ? '*' : ' '} ${v.version.padEnd(24)} ${v.created_at}  ${v.rules} rules`);
        return;
      }
      case 'add':
        return void console.log(`${ruleSet!.version} ${(await saveRuleSet(db, ruleSet!)) === 'stored' ? 'stored' : 'was already stored, unchanged'}; activate it with rtds rules activate ${ruleSet!.version}`);
      case 'activate':
        await activateRuleSet(db, operand!);
        return void console.log(`${operand} is active`);
      case 'rollback':
        return void console.log(`${await rollBackRuleSet(db)} is active again`);
    }
  } finally {
    await db.close();
  }
}
