// Backups that travel, in real Chromium: the Cluster page's storages, a copy to another storage
// started from the backup page, an archive downloaded from its links and uploaded again on the
// Backups page. scripts/test.sh sets, besides what portal.test.mjs reads:
//   MILVAULT_E2E_FAR    the directory of the first portal's named local storage `e2e_far`
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchChromium, milvusCount, newPageOf } from '../lib/browser.mjs';

const BASE = process.env.MILVAULT_PORTAL_URL ?? 'http://127.0.0.1:3000';
const DOWN = process.env.MILVAULT_DOWN_URL;
const BACKUPS = process.env.MILVAULT_E2E_BACKUPS;
const FAR = process.env.MILVAULT_E2E_FAR;
const SHOTS = process.env.MILVAULT_E2E_SHOTS ?? 'test-output/screenshots';
const RUN = Math.random().toString(36).slice(2, 8);
const BACKUP = `e2e_travel_${RUN}`;
const skip = !BACKUPS || !FAR;

let browser;
let tmp;
const consoleErrors = [];

before(async () => {
  if (skip) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'milvault-travel-'));
  browser = await launchChromium();
  // the backup every test here uses, made through the API (the picker has its own test)
  const r = await fetch(`${BASE}/api/v2/backups`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: BACKUP, collections: ['demo_products'] }),
  });
  const body = await r.text();
  assert.equal(r.status, 202, body);
  const { id } = JSON.parse(body);
  for (let i = 0; ; i++) {
    const job = await (await fetch(`${BASE}/api/v2/jobs/${id}`)).json();
    if (job.state !== 'running') { assert.equal(job.state, 'succeeded', JSON.stringify(job)); break; }
    assert.ok(i < 300, `backup ${BACKUP} did not finish`);
    await new Promise((res) => setTimeout(res, 500));
  }
});

after(async () => {
  await browser?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function newPage(width = 1280, height = 900) {
  return newPageOf(browser, consoleErrors, width, height);
}

async function open(page, url) {
  const resp = await page.goto(url);
  assert.ok(resp.ok(), `${url} answered ${resp.status()}`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Every file under `dir`, relative to it, with its size. */
function filesOf(dir) {
  return Object.fromEntries(fs.readdirSync(dir, { recursive: true })
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .map((f) => [f, fs.statSync(path.join(dir, f)).size]));
}

test('the Cluster page lists the backup storage and the named storage, both answering', { skip }, async () => {
  const page = await newPage();
  await open(page, `${BASE}/cluster`);
  const rows = page.locator('table.storages tbody tr');
  assert.equal(await rows.count(), 2);
  const def = page.locator('table.storages tr[data-storage="default"]');
  const far = page.locator('table.storages tr[data-storage="e2e_far"]');
  assert.equal((await def.locator('.storage-health .badge').textContent()).trim(), 'answers');
  assert.equal((await far.locator('.storage-health .badge').textContent()).trim(), 'answers');
  assert.equal(await far.getAttribute('class'), 'ok');
  assert.equal((await def.locator('.storage-location').textContent()).trim(), `local directory ${BACKUPS}`);
  assert.equal((await far.locator('.storage-location').textContent()).trim(), `local directory ${FAR}`);
  assert.doesNotMatch(await page.content(), /minioadmin|secretAccessKey/i, 'no credentials in the page');
  await page.locator('table.storages').scrollIntoViewIfNeeded();
  await shot(page, '16-cluster-storages');
  await page.close();
});

test('copy to another storage from the backup page: followed live, the files land there', { skip }, async () => {
  const page = await newPage();
  const copy = `${BACKUP}_far`;
  await open(page, `${BASE}/backups/${BACKUP}`);
  const section = page.locator('section.copy-section');
  await section.waitFor();
  assert.deepEqual(await section.locator('select[name=copy-to] option').allTextContents(), ['e2e_far']);
  await section.locator('#copy-as').fill('bad/name');
  await section.locator('.field-error', { hasText: 'Only letters' }).waitFor();
  assert.ok(await section.getByRole('button', { name: 'Copy' }).isDisabled());
  await section.locator('#copy-as').fill(copy);
  await section.locator('select[name=copy-to]').selectOption('e2e_far');
  await section.getByRole('button', { name: 'Copy', exact: true }).click();
  const live = section.locator('.copy-live');
  await live.waitFor({ timeout: 30_000 });
  assert.match(await live.locator('a').first().getAttribute('href'), /^\/jobs\/[0-9a-f-]+$/);
  await live.locator('.badge', { hasText: /succeeded|failed|cancelled/ }).waitFor({ timeout: 300_000 });
  assert.equal((await live.locator('.badge').textContent()).trim(), 'succeeded', await live.textContent());
  assert.match(await live.locator('.pct').textContent(), /100%/);
  assert.equal((await live.locator('.copy-done').textContent()).trim(), `Copied to storage e2e_far as ${copy}.`);
  await page.waitForTimeout(500); // the progress bar's width transition
  await shot(page, '17-copy-done');

  // on disk: every file of the backup's data is in the other directory, the same size
  const source = filesOf(path.join(BACKUPS, BACKUP));
  const copied = filesOf(path.join(FAR, copy));
  const binlogs = Object.keys(source).filter((f) => f.startsWith('binlogs/'));
  assert.ok(binlogs.length > 0, 'the backup has binlogs');
  for (const f of binlogs) assert.equal(copied[f], source[f], `${f} copied`);
  assert.ok(copied['meta/backup_meta.json'] > 0, 'the copy has its metadata');
  assert.equal(fs.existsSync(path.join(BACKUPS, copy)), false, 'nothing made in the backup storage');

  // the same copy again is refused before a job starts: the storage holds that name now
  await section.getByRole('button', { name: 'Copy', exact: true }).click();
  await section.locator('.error', { hasText: copy }).waitFor({ timeout: 30_000 });
  await page.close();
});

test('the copy is a backup of its storage: picked on Backups, opened, verified and restored from there', { skip }, async () => {
  const page = await newPage();
  const copy = `${BACKUP}_far`;
  await open(page, `${BASE}/`);
  const picker = page.locator('label.storage-picker select[name=storage]');
  assert.deepEqual(await picker.locator('option').allTextContents(), ['default', 'e2e_far']);
  await picker.selectOption('e2e_far');
  const link = page.locator('table.backups a', { hasText: copy });
  await link.waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('table.backups a', { hasText: BACKUP }).count(), 1, 'only the copy is there');
  await shot(page, '17b-backups-in-storage');
  await link.click();
  await page.waitForURL(new RegExp(`/backups/e2e_far:${copy}$`));
  await page.locator('h1 .storage-of', { hasText: 'in storage e2e_far' }).waitFor();
  assert.equal(await page.locator('a.archive-tar').getAttribute('href'),
    `/api/v2/backups/${copy}/archive?storage=e2e_far`);
  assert.equal(await page.locator('p.crumbs a').first().getAttribute('href'), '/?storage=e2e_far');

  // verified there: the job, then the backup's own badge
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]+$/, { timeout: 30_000 });
  await page.locator('.badge', { hasText: /succeeded|failed/ }).waitFor({ timeout: 120_000 });
  assert.equal((await page.locator('.badge').first().textContent()).trim(), 'succeeded');
  await open(page, `${BASE}/backups/e2e_far:${copy}`);
  assert.match(await page.locator('dl.facts').textContent(), /intact/);

  // restored from there, every row back
  const suffix = `_far${RUN}`;
  await open(page, `${BASE}/restore/e2e_far:${copy}`);
  await page.fill('input[name=suffix]', suffix);
  await page.locator('.preview strong.target', { hasText: `default.demo_products${suffix}` }).waitFor();
  await page.getByRole('button', { name: 'Start restore' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]+$/, { timeout: 30_000 });
  await page.locator('.badge', { hasText: /succeeded|failed/ }).waitFor({ timeout: 300_000 });
  assert.equal((await page.locator('.badge').first().textContent()).trim(), 'succeeded',
    await page.locator('main').textContent());
  const source = milvusCount('default', 'demo_products');
  assert.ok(source > 0);
  assert.equal(milvusCount('default', `demo_products${suffix}`), source);
  await page.close();
});

test('the archive links download a tar holding the backup, and a .tar.zst', { skip }, async () => {
  const page = await newPage();
  await open(page, `${BASE}/backups/${BACKUP}`);
  const tarLink = page.getByRole('link', { name: 'Download archive (.tar)' });
  assert.equal(await tarLink.getAttribute('href'), `/api/v2/backups/${BACKUP}/archive`);
  const [tarDl] = await Promise.all([page.waitForEvent('download'), tarLink.click()]);
  assert.equal(tarDl.suggestedFilename(), `${BACKUP}.tar`);
  const tar = path.join(tmp, `${BACKUP}.tar`);
  await tarDl.saveAs(tar);
  const entries = execFileSync('tar', ['-tf', tar], { encoding: 'utf8' }).split('\n').filter(Boolean);
  assert.ok(entries.includes('meta/backup_meta.json'), entries.join(' '));
  const binlogs = Object.keys(filesOf(path.join(BACKUPS, BACKUP))).filter((f) => f.startsWith('binlogs/'));
  for (const f of binlogs) assert.ok(entries.includes(f), `${f} in the archive`);

  const zstLink = page.getByRole('link', { name: '.tar.zst' });
  assert.equal(await zstLink.getAttribute('href'), `/api/v2/backups/${BACKUP}/archive?zstd=true`);
  const [zstDl] = await Promise.all([page.waitForEvent('download'), zstLink.click()]);
  assert.equal(zstDl.suggestedFilename(), `${BACKUP}.tar.zst`);
  const zst = path.join(tmp, `${BACKUP}.tar.zst`);
  await zstDl.saveAs(zst);
  const magic = fs.readFileSync(zst).subarray(0, 4);
  assert.deepEqual([...magic], [0x28, 0xb5, 0x2f, 0xfd], 'a zstd frame');
  assert.ok(fs.statSync(zst).size < fs.statSync(tar).size, 'smaller than the tar');
  await page.locator('.page-head').screenshot({ path: path.join(SHOTS, '18-archive-links.png') });
  await page.close();
});

test('an archive uploaded on the Backups page under a new name appears in the list; a bad one is refused', { skip }, async () => {
  const tar = path.join(tmp, `${BACKUP}.tar`);
  assert.ok(fs.existsSync(tar), 'the previous test downloaded the archive');
  const page = await newPage();
  const imported = `${BACKUP}_up`;
  await open(page, `${BASE}/`);
  await page.locator('details.upload-archive summary').click();
  const form = page.locator('form.upload-form');
  await form.locator('#archive-file').setInputFiles(tar);
  await form.locator('#archive-name').fill(imported);
  await form.getByRole('button', { name: 'Upload' }).click();
  const done = form.locator('.upload-done');
  await done.waitFor({ timeout: 120_000 });
  assert.match(await done.textContent(), new RegExp(`^Imported ${imported} \\(renamed from ${BACKUP}\\): [\\d,]+ files, `));
  // the list is read again: the new backup is there without a reload
  await page.locator('table.backups tr', { hasText: imported }).waitFor();
  assert.ok(fs.existsSync(path.join(BACKUPS, imported, 'meta', 'backup_meta.json')));
  await shot(page, '19-archive-uploaded');

  // the same name again: refused, and the page says why
  await form.getByRole('button', { name: 'Upload' }).click();
  const refused = form.locator('.upload-refused .error');
  await refused.waitFor({ timeout: 60_000 });
  assert.match(await refused.textContent(), new RegExp(`The archive was refused: backup '${imported}' already exists`));

  // a damaged archive (its data cut off): refused, nothing left behind
  const cut = path.join(tmp, 'cut.tar');
  const bytes = fs.readFileSync(tar);
  fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const damaged = `${BACKUP}_cut`;
  await form.locator('#archive-file').setInputFiles(cut);
  await form.locator('#archive-name').fill(damaged);
  await form.getByRole('button', { name: 'Upload' }).click();
  await form.locator('.upload-refused .error', { hasText: /The archive was refused: (?!backup .* already exists)/ }).waitFor({ timeout: 60_000 });
  await page.waitForFunction(() => !document.querySelector('form.upload-form button[type=submit]').disabled);
  const why = await form.locator('.upload-refused .error').textContent();
  assert.doesNotMatch(why, /exists/, why);
  assert.match(why, /The archive was refused: binlogs\/.* cannot be read \(truncated\?\).*nothing was imported/, why);
  assert.equal(why.match(/archive was refused/gi).length, 1, `said once: ${why}`);
  assert.equal(fs.existsSync(path.join(BACKUPS, damaged)), false, 'a refused archive leaves nothing behind');
  await shot(page, '20-archive-refused');
  await page.close();
});

test('without another storage the backup page offers no copy, still the archive links', { skip: skip || !DOWN }, async () => {
  // the second portal keeps its backups in the same directory but names no other storage
  const page = await newPage();
  await open(page, `${DOWN}/backups/${BACKUP}`);
  await page.getByRole('link', { name: 'Download archive (.tar)' }).waitFor();
  assert.equal(await page.locator('section.copy-section').count(), 0);
  await open(page, `${DOWN}/cluster`);
  assert.equal(await page.locator('table.storages tbody tr').count(), 1);
  await page.close();
});

test('no console errors besides the refusals provoked on purpose', { skip }, () => {
  // a refused upload (409, 400) and the refused second copy (a server function's error: 500) are
  // logged by Chromium as failed loads
  const expected = /Failed to load resource: the server responded with a status of (400|409|500)/;
  assert.deepEqual(consoleErrors.filter((e) => !expected.test(e)), []);
});
