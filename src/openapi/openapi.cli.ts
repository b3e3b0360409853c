import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { buildOfflineOpenApiDocument } from './offline-document.js';

/** `node dist/openapi/openapi.cli.js <file>`: writes the OpenAPI document, no database needed. */
async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: openapi.cli.js <output.json>');
  const document = await buildOfflineOpenApiDocument();
  writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
  process.stdout.write(`OpenAPI document written to ${file}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Writing the OpenAPI document failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
