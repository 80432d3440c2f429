// Fails when the client code escapes the generated types: `any`, type
// assertions (`x as T`, `<T>x`), non-null assertions (`x!`) or
// `@ts-ignore`/`@ts-expect-error`/`@ts-nocheck` comments. The generated
// src/schema.d.ts is not checked; everything else under src/ is.
//
//   node checks/no-casts.mjs
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

const forbidden = new Map([
  [ts.SyntaxKind.AnyKeyword, "`any`"],
  [ts.SyntaxKind.AsExpression, "a type assertion (`as`)"],
  [ts.SyntaxKind.TypeAssertionExpression, "a type assertion (`<T>x`)"],
  [ts.SyntaxKind.NonNullExpression, "a non-null assertion (`!`)"],
]);

const files = readdirSync("src")
  .filter((name) => name.endsWith(".ts") && !name.endsWith(".d.ts"))
  .map((name) => join("src", name));
let found = 0;
for (const file of files) {
  const text = readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const report = (node, what) => {
    const { line, character } = source.getLineAndCharacterOfPosition(node.getStart(source));
    console.error(`${file}:${line + 1}:${character + 1}: ${what}: ${node.getText(source).slice(0, 60)}`);
    found += 1;
  };
  const visit = (node) => {
    const what = forbidden.get(node.kind);
    // `as const` only narrows a literal; it asserts nothing.
    const asConst = node.kind === ts.SyntaxKind.AsExpression && node.type.getText(source) === "const";
    if (what !== undefined && !asConst) report(node, what);
    ts.forEachChild(node, visit);
  };
  visit(source);
  text.split("\n").forEach((line, i) => {
    if (/@ts-(ignore|expect-error|nocheck)/.test(line)) {
      console.error(`${file}:${i + 1}: a comment that silences the type checker`);
      found += 1;
    }
  });
}
if (found > 0) {
  console.error(`${found} escape(s) from the generated types`);
  process.exit(1);
}
console.log(`no any, no casts in ${files.join(", ")}`);
