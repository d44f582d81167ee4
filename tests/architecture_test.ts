/**
 * DESIGN.md's import rules, checked by reading the import statements of every
 * source file under lib/ and main.ts: each layer imports only what it may, and
 * the few concrete dependencies (node:sqlite, @grpc/*, Deno.env, the concrete
 * implementations) stay in their one place.
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), ".."));

interface Import {
  /** Repo-relative path of a local module, or the bare specifier (`node:sqlite`, `@grpc/grpc-js`). */
  target: string;
  typeOnly: boolean;
}

interface Source {
  path: string;
  text: string;
  imports: Import[];
}

const IMPORT_RE =
  /^\s*(import|export)\s+(type\s+)?(?:[^"';]*?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm;

function parseImports(path: string, text: string): Import[] {
  const out: Import[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[3] ?? m[4];
    const typeOnly = m[2] !== undefined;
    const target = spec.startsWith(".") ? normalize(join(dirname(path), spec)) : spec;
    out.push({ target, typeOnly });
  }
  return out;
}

async function walk(dir: string, into: string[]): Promise<void> {
  for await (const e of Deno.readDir(join(ROOT, dir))) {
    const p = join(dir, e.name);
    if (e.isDirectory) await walk(p, into);
    else if (e.name.endsWith(".ts")) into.push(p);
  }
}

async function sources(): Promise<Source[]> {
  const paths: string[] = ["main.ts"];
  await walk("lib", paths);
  return await Promise.all(paths.map(async (path) => {
    const text = await Deno.readTextFile(join(ROOT, path));
    return { path, text, imports: parseImports(path, text) };
  }));
}

const all = await sources();

function layerOf(path: string): string {
  const m = /^lib\/([^/]+)\//.exec(path);
  return m ? m[1] : path;
}

/** Local modules a layer may import, as path prefixes; `type:` ones only with `import type`. */
const ALLOWED: Record<string, string[]> = {
  transports: [
    "lib/transports/",
    "type:lib/engine/types.ts",
    "lib/errors.ts",
    "lib/log.ts",
    "lib/sse/",
    "lib/store/store.ts",
    "type:lib/config.ts",
    "type:lib/providers/provider.ts",
    "lib/metrics.ts",
    "lib/streams.ts",
  ],
  engine: [
    "lib/engine/",
    "type:lib/providers/provider.ts",
    "lib/store/store.ts",
    "lib/store/row_id.ts",
    "lib/errors.ts",
    "lib/log.ts",
    "type:lib/metrics.ts",
    "lib/tokens.ts",
    "lib/streams.ts",
  ],
  providers: [
    "lib/providers/",
    "lib/sse/",
    "lib/errors.ts",
    "lib/log.ts",
    "type:lib/config.ts",
    "lib/tokens.ts",
  ],
  store: ["lib/store/", "lib/errors.ts", "lib/log.ts", "type:lib/providers/provider.ts"],
  sse: ["lib/sse/", "lib/errors.ts"],
};

/**
 * Known exceptions, each with its reason. Keep this list short: an entry here
 * is a debt to pay by moving the shared piece to a neutral module.
 */
const EXCEPTIONS: Record<string, string> = {};

function allowed(layer: string, imp: Import): boolean {
  for (const rule of ALLOWED[layer] ?? []) {
    const typeRule = rule.startsWith("type:");
    const prefix = typeRule ? rule.slice(5) : rule;
    if (imp.target.startsWith(prefix) && (!typeRule || imp.typeOnly)) return true;
  }
  return false;
}

Deno.test("each layer imports only the layers DESIGN.md allows", () => {
  const bad: string[] = [];
  for (const src of all) {
    const layer = layerOf(src.path);
    if (!(layer in ALLOWED)) continue;
    for (const imp of src.imports) {
      if (!imp.target.startsWith("lib/") && !imp.target.startsWith("main")) continue;
      const edge = `${src.path} -> ${imp.target}`;
      if (!allowed(layer, imp) && !(edge in EXCEPTIONS)) {
        bad.push(`${edge}${imp.typeOnly ? " (type)" : ""}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("nothing under lib imports main.ts or tests", () => {
  const bad = all.filter((s) => s.path.startsWith("lib/")).flatMap((s) =>
    s.imports.filter((i) => i.target === "main.ts" || i.target.startsWith("tests/")).map((i) =>
      `${s.path} -> ${i.target}`
    )
  );
  assert.deepEqual(bad, []);
});

Deno.test("only the sqlite store (sqlite.ts and its checkpoint worker) imports node:sqlite", () => {
  const users = all.filter((s) => s.imports.some((i) => i.target === "node:sqlite"));
  // The worker runs the WAL checkpoints of sqlite.ts on its own connection.
  assert.deepEqual(users.map((s) => s.path).sort(), [
    "lib/store/checkpoint_worker.ts",
    "lib/store/sqlite.ts",
  ]);
});

Deno.test("only lib/transports/grpc*.ts import @grpc packages", () => {
  const bad = all.filter((s) =>
    s.imports.some((i) => i.target.startsWith("@grpc/") || i.target.startsWith("npm:@grpc/")) &&
    !/^lib\/transports\/grpc[^/]*\.ts$/.test(s.path)
  );
  assert.deepEqual(bad.map((s) => s.path), []);
});

Deno.test("only lib/config.ts reads Deno.env", () => {
  const readers = all.filter((s) => /\bDeno\.env\b/.test(stripComments(s.text)));
  assert.deepEqual(readers.map((s) => s.path), ["lib/config.ts"]);
});

Deno.test("only main.ts imports the concrete store, registry, engine and transports", () => {
  const concrete = [
    "lib/store/sqlite.ts",
    "lib/providers/registry.ts",
    "lib/engine/engine.ts",
    "lib/transports/http.ts",
    "lib/transports/grpc.ts",
    "lib/transports/ws.ts",
  ];
  const bad = all.filter((s) => s.path !== "main.ts").flatMap((s) =>
    s.imports.filter((i) => concrete.includes(i.target) && !i.typeOnly).map((i) =>
      `${s.path} -> ${i.target}`
    )
  );
  assert.deepEqual(bad, []);
  const mainImports = all.find((s) => s.path === "main.ts")!.imports.map((i) => i.target);
  for (const c of concrete) assert.ok(mainImports.includes(c), `main.ts wires ${c}`);
});

Deno.test("the import reader sees every import form", () => {
  const text = [
    'import { a } from "./a.ts";',
    'import type { B } from "../b.ts";',
    'export { c } from "./c.ts";',
    'import "./side.ts";',
    'const d = await import("./d.ts");',
    'import {\n  e,\n  f,\n} from "node:sqlite";',
  ].join("\n");
  const got = parseImports("lib/x/y.ts", text).map((i) =>
    `${i.typeOnly ? "type " : ""}${i.target}`
  );
  assert.deepEqual(got, [
    "lib/x/a.ts",
    "type lib/b.ts",
    "lib/x/c.ts",
    "lib/x/side.ts",
    "lib/x/d.ts",
    "node:sqlite",
  ]);
  assert.equal(relative(ROOT, join(ROOT, "lib")), "lib");
});

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}
