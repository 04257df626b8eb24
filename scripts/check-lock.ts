// CI: tsx scripts/check-lock.ts <committed lock> <lock npm install wrote>
// Exits 1, naming each entry, when the install changed anything it installed (see lockDrift).
import { existsSync, readFileSync } from 'node:fs';
import { lockDrift, type PackageLock } from './lib/lock-drift.js';

const [committedPath, writtenPath] = process.argv.slice(2);
const read = (path: string): PackageLock => JSON.parse(readFileSync(path, 'utf8')) as PackageLock;
const drift = lockDrift(read(committedPath), read(writtenPath), (path) => existsSync(path));
for (const line of drift) console.error(`package-lock.json: ${line}`);
process.exitCode = drift.length > 0 ? 1 : 0;
