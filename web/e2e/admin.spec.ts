// The admin runs the organisation in the browser: changes grading.passingThreshold (a bad value
// refused at the field), invites a teacher, sees both in the audit log and verifies its chain;
// the AI page shows the spend against the budget. axe-core on every page, screenshots of each.
import { expect, test } from "@playwright/test";
import { accessible, screenshots } from "./support";

const snap = screenshots("a");

test("an admin changes a setting and invites a teacher; the audit log shows both and verifies intact", async ({ page }, info) => {
  await page.goto("/sign-in");
  await page.getByLabel("Organisation").fill("demo");
  await page.getByLabel("Email").fill("admin@example.com");
  await page.getByLabel("Password").fill("Demo123!");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Organisation" }).click();
  await expect(page.getByRole("heading", { name: "Organisation" })).toBeVisible();
  await expect(page.getByRole("cell", { name: "student@example.com", exact: true })).toBeVisible();
  await accessible(page);
  await snap(page, info, "people");

  // Settings: a value the server refuses is explained at the field; a good one is saved.
  await page.getByRole("link", { name: "Settings" }).click();
  const threshold = page.getByLabel(/grading\.passingThreshold/);
  await threshold.fill("250");
  await page.getByRole("button", { name: "Save grading.passingThreshold" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await snap(page, info, "setting-refused");
  const value = String(60 + (Date.now() % 30));
  await threshold.fill(value);
  await page.getByRole("button", { name: "Save grading.passingThreshold" }).click();
  await expect(page.getByText("Set for this organisation · saved")).toBeVisible();
  await accessible(page);
  await snap(page, info, "settings");

  // An invitation.
  await page.getByRole("link", { name: "People" }).click();
  const email = `new-teacher-${Date.now()}@example.com`;
  await page.getByLabel("Invite by email").fill(email);
  await page.getByRole("combobox", { name: "Role", exact: true }).selectOption("TEACHER");
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByText(`Invitation sent to ${email}.`)).toBeVisible();

  // The audit log: both, and the chain intact.
  await page.getByRole("link", { name: "Audit log" }).click();
  await expect(async () => {
    await page.reload();
    await expect(page.getByRole("cell", { name: "identity.invitation.sent" }).first()).toBeVisible({ timeout: 2000 });
    await expect(page.getByRole("cell", { name: "identity.system_config.changed" }).first()).toBeVisible({ timeout: 2000 });
  }).toPass({ timeout: 30_000 });
  await page.getByRole("button", { name: "Verify the chain" }).click();
  await expect(page.getByText(/^Intact: \d+ entries checked\./)).toBeVisible();
  await accessible(page);
  await snap(page, info, "audit");

  await page.getByRole("link", { name: "AI", exact: true }).click();
  await expect(page.getByText(/This month .* of .* left/)).toBeVisible(); // the budget: assessment's
  // Month by month: analytics' report of the seed's AI query, with the demo's drafting in it.
  await expect(async () => {
    await page.reload();
    await expect(page.getByRole("row", { name: /QUESTION_GENERATION/ }).first()).toBeVisible({ timeout: 2000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.getByText(/^\d+ waiting · \d+ running/)).toBeVisible(); // the drafting queue, for admins
  // The built-in generator needs no key: its test answers at once.
  await page.getByRole("button", { name: "Test the connection of Built-in offline generator" }).click();
  await expect(page.getByText(/^Works \(\d+ ms\)$/)).toBeVisible();
  // The default provider is a setting: choosing one with no active configuration says what follows.
  const choice = page.getByLabel("Default provider for AI drafts");
  await expect(choice).toHaveValue("OFFLINE");
  await choice.selectOption("OPENAI");
  await expect(page.getByText("Default saved.")).toBeVisible();
  await expect(page.getByText(/No openai configuration is active/)).toBeVisible();
  await choice.selectOption("OFFLINE"); // back, for the teacher's drafts
  await expect(choice).toHaveValue("OFFLINE");
  await expect(page.getByText(/No openai configuration is active/)).toBeHidden();
  await accessible(page);
  await snap(page, info, "ai");
});
