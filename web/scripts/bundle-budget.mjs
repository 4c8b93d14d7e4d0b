// The web budget of DESIGN.md: a student's first visit to a lesson loads at most 250 KB of
// compressed JavaScript. Counts the entry chunk and everything it imports statically (what the
// browser must fetch before the player shows; the teacher's and admin's lazy chunks are not),
// gzip-compressed as the gateway serves them. Fails the build when over; writes the figures to
// dist/bundle-report.json for `make bench`.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const BUDGET_BYTES = 250 * 1024;
const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));
const entry = Object.keys(manifest).find((key) => manifest[key].isEntry);
const files = new Set();
const visit = (key) => {
  const chunk = manifest[key];
  if (!chunk || files.has(chunk.file)) return;
  files.add(chunk.file);
  for (const imported of chunk.imports ?? []) visit(imported);
};
visit(entry);
const sizes = [...files].map((file) => {
  const bytes = readFileSync(join(dist, file));
  return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 6 }).length };
});
const total = sizes.reduce((sum, s) => sum + s.gzip, 0);
const lazy = Object.values(manifest).filter((c) => c.isDynamicEntry).map((c) => c.file);
const report = { budget_bytes: BUDGET_BYTES, first_visit_gzip_bytes: total, files: sizes, lazy_chunks: lazy };
writeFileSync(join(dist, "bundle-report.json"), JSON.stringify(report, null, 2));
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`first visit to a lesson: ${kb(total)} of JavaScript (gzip) in ${files.size} file(s); budget ${kb(BUDGET_BYTES)}`);
if (total > BUDGET_BYTES) {
  console.error(`over the budget by ${kb(total - BUDGET_BYTES)}: move code behind a lazy import or drop a dependency`);
  process.exit(1);
}
