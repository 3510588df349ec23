// The Backups page with 10,000 backups, in real Chromium: paged on the server, 50 rows at a time.
// scripts/test.sh starts a portal whose backup directory starts empty and sets:
//   MILVAULT_MANY_URL     that portal
//   MILVAULT_E2E_MANY     its backup directory: this test writes 10,000 backups' metadata there
//   MILVAULT_E2E_SHOTS    where screenshots go
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launchChromium, newPageOf } from '../lib/browser.mjs';

const BASE = process.env.MILVAULT_MANY_URL;
const DIR = process.env.MILVAULT_E2E_MANY;
const SHOTS = process.env.MILVAULT_E2E_SHOTS ?? 'test-output/screenshots';
const COUNT = 10_000;
const PAGE = 50;
// one backup a minute, the newest last
const FIRST_MS = Date.UTC(2025, 0, 1);

let browser;
const consoleErrors = [];

/** `many_00042`: names sort as their age does. */
const nameOf = (i) => `many_${String(i).padStart(5, '0')}`;

/** A backup's metadata as milvus-backup writes it: backup_meta.json last (it makes it complete). */
function writeBackup(i) {
  const name = nameOf(i);
  const coll = {
    collection_id: 1000 + (i % 7),
    db_name: 'default',
    collection_name: `products_${i % 7}`,
    partition_backups: [],
    size: 1_000 + i,
  };
  const info = {
    id: `id-${i}`,
    state_code: 2,
    name,
    backup_timestamp: FIRST_MS + i * 60_000,
    size: 1_000 + i,
    milvus_version: 'v2.3.5',
    collection_backups: [coll],
  };
  const meta = path.join(DIR, name, 'meta');
  fs.mkdirSync(meta, { recursive: true });
  fs.writeFileSync(path.join(meta, 'full_meta.json'), JSON.stringify(info));
  const { collection_backups: _, ...top } = info;
  fs.writeFileSync(path.join(meta, 'backup_meta.json'), JSON.stringify(top));
}

before(async () => {
  if (!BASE) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  for (let i = 0; i < COUNT; i++) writeBackup(i);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

async function open(page, url) {
  const resp = await page.goto(url, { timeout: 120_000 });
  assert.ok(resp.ok(), `${url} answered ${resp.status()}`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 60_000 });
}

/** The names in the table, top to bottom. */
async function namesShown(page) {
  return page.locator('table.backups tbody tr td:first-child a').allTextContents();
}

/** Clicks a pager button and waits until the table shows another first row. */
async function turn(page, button) {
  const before = (await namesShown(page))[0];
  await page.locator(`nav.pager button.${button}`).click();
  await page.waitForFunction(
    (prev) => document.querySelector('table.backups tbody tr td:first-child a')?.textContent !== prev,
    before,
    { timeout: 30_000 },
  );
}

test('the Backups page pages through 10,000 backups, each shown once, newest first', { skip: !BASE, timeout: 900_000 }, async () => {
  const page = await newPageOf(browser, consoleErrors);
  await open(page, `${BASE}/`);
  assert.match(await page.locator('main').textContent(), /10000 backups/);
  assert.equal((await page.locator('.page-span').textContent()).trim(), '1–50 of 10,000');
  const html = await (await fetch(`${BASE}/`)).text();
  assert.ok(html.length < 100_000, `the first page's HTML is ${html.length} bytes`);
  await page.screenshot({ path: path.join(SHOTS, 'many-01-backups.png'), fullPage: true });

  const seen = [];
  for (let p = 0; ; p++) {
    const names = await namesShown(page);
    assert.equal(names.length, PAGE, `page ${p + 1} shows ${names.length} rows`);
    seen.push(...names);
    if (await page.locator('nav.pager button.older').isDisabled()) break;
    await turn(page, 'older');
  }
  const expected = Array.from({ length: COUNT }, (_, i) => nameOf(COUNT - 1 - i));
  assert.equal(seen.length, COUNT, 'every page seen once');
  assert.deepEqual(seen, expected, 'every backup once, newest first');
  assert.equal((await page.locator('.page-span').textContent()).trim(), '9951–10000 of 10,000');
  assert.ok(await page.locator('nav.pager button.oldest').isDisabled());

  await turn(page, 'newest');
  assert.equal((await namesShown(page))[0], nameOf(COUNT - 1));
  assert.ok(await page.locator('nav.pager button.newer').isDisabled());
  await turn(page, 'oldest');
  assert.equal((await namesShown(page)).at(-1), nameOf(0));

  // a filter narrows on the server, back to the first page
  await page.fill('input[type=search]', 'many_0420');
  await page.waitForFunction(() => document.querySelectorAll('table.backups tbody tr').length === 10, null, { timeout: 30_000 });
  assert.deepEqual(await namesShown(page), Array.from({ length: 10 }, (_, i) => nameOf(4209 - i)));
  await page.close();
});

test('10,000 backups at a phone\'s width: no sideways scrolling', { skip: !BASE }, async () => {
  const phone = await newPageOf(browser, consoleErrors, 390, 844);
  await open(phone, `${BASE}/`);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `overflow ${overflow}px`);
  await phone.screenshot({ path: path.join(SHOTS, 'many-02-backups-phone.png'), fullPage: true });
  await phone.close();
});

test('no console errors with 10,000 backups', { skip: !BASE }, () => {
  assert.deepEqual(consoleErrors, []);
});
