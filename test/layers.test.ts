// The import-direction rule (eslint-rules/layers.js) that keeps src/ layered:
// it must flag an upward import, allow a downward one, and know every folder.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { LAYERS, layersPlugin } from '../eslint-rules/layers.js';

const root = new URL('..', import.meta.url).pathname;
const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: true,
  overrideConfig: [
    {
      files: ['src/**/*.ts'],
      languageOptions: { parser: tseslint.parser },
      plugins: { layers: layersPlugin },
      rules: { 'layers/import-direction': 'error' },
    },
  ],
});

async function problems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${file}` });
  return (result?.messages ?? []).map((m) => m.message);
}

void describe('import direction between src/ folders', () => {
  const cases: { file: string; code: string; flagged: boolean }[] = [
    { file: 'src/model/x.ts', code: "import '../store/types.ts';", flagged: true },
    { file: 'src/store/x.ts', code: "import '../model/schema.ts';", flagged: false },
    { file: 'src/drivers/agent/x.ts', code: "import '../../api/server.ts';", flagged: true },
    { file: 'src/drivers/agent/x.ts', code: "import '../types.ts';", flagged: false },
    { file: 'src/drivers/agent/x.ts', code: "import '../../agent/protocol.ts';", flagged: false },
    { file: 'src/scheduler/x.ts', code: "export * from '../drivers/types.ts';", flagged: true },
    {
      file: 'src/traffic/x.ts',
      code: "import type { A } from '../controllers/a.ts';",
      flagged: true,
    },
    { file: 'src/console/x.ts', code: "const m = import('../scheduler/index.ts');", flagged: true },
    { file: 'src/cli/x.ts', code: "import '../cmd/server.ts';", flagged: false },
    { file: 'src/api/x.ts', code: "import 'fastify';", flagged: false },
  ];
  for (const c of cases) {
    void test(`${c.file}: ${c.code} is ${c.flagged ? 'refused' : 'allowed'}`, async () => {
      const found = await problems(c.file, c.code);
      assert.equal(found.length > 0, c.flagged, found.join('\n'));
    });
  }

  void test('every folder of src/ has a row in the table', () => {
    const folders = readdirSync(`${root}src`, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    assert.deepEqual(folders, Object.keys(LAYERS).sort());
  });

  void test('the table has no cycle: some order puts every folder after what it imports', () => {
    const placed = new Set<string>();
    const table = LAYERS;
    let progress = true;
    while (progress) {
      progress = false;
      for (const [folder, deps] of Object.entries(table))
        if (!placed.has(folder) && deps.every((d) => placed.has(d))) {
          placed.add(folder);
          progress = true;
        }
    }
    assert.equal(placed.size, Object.keys(table).length);
  });
});
