// What every browser test does on every page: check accessibility, and keep a numbered screenshot.
import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, type TestInfo } from "@playwright/test";

/** No serious or critical accessibility violation on the page as it is now. */
export async function accessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
}

/** A screenshot function numbering its pictures in order: "<prefix>01-<name>.png", … */
export function screenshots(prefix = ""): (page: Page, info: TestInfo, name: string) => Promise<void> {
  let step = 0;
  return async (page, info, name) => {
    step += 1;
    await page.screenshot({ path: info.outputPath(`${prefix}${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
  };
}
