// The portal in real Chromium against a real milvault server and a real Milvus 2.3.5.
// scripts/test.sh starts both and sets:
//   MILVAULT_PORTAL_URL     the portal (Milvus reachable)
//   MILVAULT_DOWN_URL       a second portal whose Milvus is not reachable
//   MILVAULT_E2E_BACKUPS    the first portal's backup directory (checked and damaged on disk)
//   MILVAULT_TEST_PYTHON    python with pymilvus, to ask Milvus itself for row counts
//   MILVAULT_E2E_SHOTS      where screenshots go
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { launchChromium, milvusCount, newPageOf } from '../lib/browser.mjs';

const BASE = process.env.MILVAULT_PORTAL_URL ?? 'http://127.0.0.1:3000';
const DOWN = process.env.MILVAULT_DOWN_URL;
const BACKUPS = process.env.MILVAULT_E2E_BACKUPS;
const PYTHON = process.env.MILVAULT_TEST_PYTHON ?? 'python3';
const SHOTS = process.env.MILVAULT_E2E_SHOTS ?? 'test-output/screenshots';
const RUN = Math.random().toString(36).slice(2, 8);
const BACKUP = `e2e_${RUN}`;
const DAMAGED = `e2e_damaged_${RUN}`;

let browser;
const consoleErrors = [];

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
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


function milvusHas(db, collection) {
  const code = `
from pymilvus import connections, utility
connections.connect(uri="http://127.0.0.1:19530", db_name="${db}")
print(utility.has_collection("${collection}"))
`;
  return execFileSync(PYTHON, ['-c', code], { encoding: 'utf8' }).trim().endsWith('True');
}

async function makeBackup(page, name) {
  await open(page, `${BASE}/new`);
  await page.fill('input[type=search]', 'demo_prod');
  const box = page.locator('input[value="default.demo_products"]');
  await box.check();
  await page.fill('#backup-name', name);
  await page.getByRole('button', { name: 'Start backup' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]+$/, { timeout: 30_000 });
  await page.locator('.badge', { hasText: /succeeded|failed/ }).waitFor({ timeout: 180_000 });
  return (await page.locator('.badge').first().textContent()).trim();
}

test('server render works before any WASM runs', async () => {
  const html = await (await fetch(`${BASE}/`)).text();
  assert.match(html, /<h1>Backups<\/h1>/);
  assert.match(html, /href="\/new"/);
  assert.doesNotMatch(html, /minioadmin|secretAccessKey/i, 'no credentials in pages');
  const cluster = await (await fetch(`${BASE}/cluster`)).text();
  assert.match(cluster, /Milvus/);
  assert.doesNotMatch(cluster, /minioadmin/);
});

test('a backup made with the picker reaches done on its job page and shows in the history', async () => {
  const page = await newPage();
  await open(page, `${BASE}/new`);
  // the picker lists Milvus' collections with row counts and can select a whole database
  assert.ok(await page.locator('input[value="default.demo_products"]').count() === 1);
  assert.ok(await page.locator('input[value="shop.reviews"]').count() === 1);
  await page.fill('#backup-name', 'bad/name');
  assert.match(await page.locator('#name-help').textContent(), /Only letters/);
  assert.ok(await page.getByRole('button', { name: 'Start backup' }).isDisabled());
  await shot(page, '01-new-backup');

  const state = await makeBackup(page, BACKUP);
  assert.equal(state, 'succeeded', await page.locator('main').textContent());
  assert.match(await page.locator('.pct').textContent(), /100%/);
  assert.match(await page.locator('.segments').textContent(), /(\d+) of \1 segments/);
  assert.ok(await page.locator('.log li').count() > 3, 'the job has log lines');
  await shot(page, '02-job-done');

  // on disk: complete, metadata written
  assert.ok(fs.existsSync(path.join(BACKUPS, BACKUP, 'meta', 'backup_meta.json')));

  await open(page, `${BASE}/`);
  const row = page.locator('table.backups tr', { hasText: BACKUP });
  await row.waitFor();
  assert.match(await row.textContent(), /default\.demo_products/);
  assert.ok(await page.locator('.chart svg rect.bar').count() >= 1, 'chart has bars');
  // a page of the history from the server: which rows, of how many; no older page yet
  const span = (await page.locator('.pager .page-span').textContent()).trim();
  const m = span.match(/^1–(\d+) of (\d+)$/);
  assert.ok(m, span);
  assert.equal(m[1], m[2], 'fewer than a page: all shown');
  assert.equal(await page.locator('table.backups tbody tr').count(), Number(m[1]));
  assert.ok(await page.getByRole('button', { name: 'Older' }).isDisabled());
  await shot(page, '03-backups');
  await page.fill('.filter input', 'no-such-backup-xyz');
  await page.getByText('No backup matches this filter.').waitFor();
  await page.close();
});

test('the Jobs page lists jobs and updates live', async () => {
  const page = await newPage();
  await open(page, `${BASE}/jobs`);
  await page.locator('table.jobs tr', { hasText: BACKUP }).first().waitFor();
  await shot(page, '04-jobs');
  await page.close();
});

test('backup detail shows schema, partitions and rows', async () => {
  const page = await newPage();
  await open(page, `${BASE}/backups/${BACKUP}`);
  await page.getByRole('heading', { name: 'default.demo_products' }).waitFor();
  const text = await page.locator('main').textContent();
  assert.match(text, /primary key/);
  assert.match(text, /FloatVector/);
  assert.match(text, /_default/);
  const dl = await fetch(`${BASE}/download/backups/${BACKUP}/backup.json`);
  assert.equal(dl.status, 200);
  const meta = await dl.json();
  assert.equal(meta.name, BACKUP);
  await shot(page, '05-backup-detail');
  await page.close();
});

test('a backup that does not exist: the not-found notice, with what to do', async () => {
  const page = await newPage();
  const missing = `e2e_missing_${RUN}`;
  await open(page, `${BASE}/backups/${missing}`);
  const notice = page.locator('.error-notice.kind-not-found');
  await notice.waitFor();
  assert.equal(await notice.getAttribute('data-code'), 'backup_not_found');
  assert.match(await notice.locator('.error-heading').textContent(), /Not found/);
  assert.match(await notice.locator('.error-text').textContent(), new RegExp(`backup '${missing}' does not exist`));
  assert.match(await notice.locator('.error-hint').textContent(), /Backups, Jobs and Policies pages list what there is/);
  await shot(page, '05b-backup-not-found');
  await page.close();
});

test('restore with a suffix from the Restore page brings every row back', async () => {
  const page = await newPage();
  const suffix = `_r${RUN}`;
  await open(page, `${BASE}/restore/${BACKUP}`);
  await page.fill('input[name=suffix]', suffix);
  await page.locator('.preview strong.target', { hasText: `default.demo_products${suffix}` }).waitFor();
  await shot(page, '06-restore-form');
  await page.getByRole('button', { name: 'Start restore' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]+$/, { timeout: 30_000 });
  await page.locator('.badge', { hasText: /succeeded|failed/ }).waitFor({ timeout: 300_000 });
  assert.equal((await page.locator('.badge').first().textContent()).trim(), 'succeeded',
    await page.locator('main').textContent());
  await shot(page, '07-restore-done');
  const source = milvusCount('default', 'demo_products');
  const restored = milvusCount('default', `demo_products${suffix}`);
  assert.ok(source > 0);
  assert.equal(restored, source, 'Milvus counts the same rows in the restored collection');

  // the same suffix again: the preview warns, and the restore cannot start without dropping
  await open(page, `${BASE}/restore/${BACKUP}`);
  await page.fill('input[name=suffix]', suffix);
  await page.locator('.preview li.exists').waitFor();
  assert.ok(await page.getByRole('button', { name: 'Start restore' }).isDisabled());
  await page.check('input[name=drop_existing]');
  await page.locator('input[name=confirm_drop]').waitFor();
  assert.ok(await page.getByRole('button', { name: 'Start restore' }).isDisabled(), 'needs the confirmation too');
  await shot(page, '08-restore-exists');
  await page.close();
});

test('a failing job shows its error in the page, and nothing half-restored is left', async () => {
  const page = await newPage();
  assert.equal(await makeBackup(page, DAMAGED), 'succeeded');
  // damage the backup: remove one insert binlog
  const insertRoot = path.join(BACKUPS, DAMAGED, 'binlogs', 'insert_log');
  const files = fs.readdirSync(insertRoot, { recursive: true })
    .map((f) => path.join(insertRoot, f)).filter((f) => fs.statSync(f).isFile());
  assert.ok(files.length > 0);
  fs.rmSync(files[0]);
  const suffix = `_d${RUN}`;
  await open(page, `${BASE}/restore/${DAMAGED}`);
  await page.fill('input[name=suffix]', suffix);
  await page.locator('.preview strong.target', { hasText: `default.demo_products${suffix}` }).waitFor();
  await page.getByRole('button', { name: 'Start restore' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]+$/, { timeout: 30_000 });
  await page.locator('.badge', { hasText: /succeeded|failed/ }).waitFor({ timeout: 300_000 });
  assert.equal((await page.locator('.badge').first().textContent()).trim(), 'failed');
  const err = await page.locator('.error-text').first().textContent();
  // the manifest check finds the missing binlog before anything is created in Milvus
  assert.match(err, /is damaged: 1 files are missing or changed/, `error shown: ${err}`);
  assert.match(err, /missing/);
  await shot(page, '09-job-failed');
  assert.equal(milvusHas('default', `demo_products${suffix}`), false, 'the failed restore dropped what it created');
  await page.close();
});

test('verification: verify from the detail page; intact and damaged states show on Backups', async () => {
  const page = await newPage();
  await open(page, `${BASE}/backups/${BACKUP}`);
  await page.getByRole('button', { name: 'Verify files' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]+$/, { timeout: 30_000 });
  await page.locator('.badge', { hasText: /succeeded|failed/ }).waitFor({ timeout: 120_000 });
  assert.equal((await page.locator('.badge').first().textContent()).trim(), 'succeeded',
    await page.locator('main').textContent());
  // the damaged backup of the previous test: its verification fails and names the missing file
  await open(page, `${BASE}/backups/${DAMAGED}`);
  await page.getByRole('button', { name: 'Verify files' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]+$/, { timeout: 30_000 });
  await page.locator('.badge', { hasText: /succeeded|failed/ }).waitFor({ timeout: 120_000 });
  assert.equal((await page.locator('.badge').first().textContent()).trim(), 'failed');
  assert.match(await page.locator('.error-text').first().textContent(), /damaged/);
  await open(page, `${BASE}/backups/${DAMAGED}`);
  const damage = page.locator('section.damage');
  await damage.waitFor();
  assert.match(await damage.textContent(), /missing/);
  await shot(page, '11-damaged-detail');
  await open(page, `${BASE}/`);
  const intact = page.locator('table.backups tr', { hasText: BACKUP }).first().locator('td.verification');
  const damaged = page.locator('table.backups tr', { hasText: DAMAGED }).locator('td.verification');
  assert.equal((await intact.textContent()).trim(), 'intact');
  assert.equal((await damaged.textContent()).trim(), 'damaged');
  await shot(page, '12-backups-verification');
  // a backup known to be damaged: its restore form offers to restore anyway, unticked
  await open(page, `${BASE}/restore/${DAMAGED}`);
  const force = page.locator('input[name=force]');
  await force.waitFor();
  assert.equal(await force.isChecked(), false);
  await open(page, `${BASE}/restore/${BACKUP}`);
  assert.equal(await page.locator('input[name=force]').count(), 0, 'not offered for an intact backup');
  await page.close();
});

test('restore drill from the backup page: followed live, then passed on the page and on Backups', async () => {
  const page = await newPage();
  await open(page, `${BASE}/backups/${BACKUP}`);
  const section = page.locator('section.drill-section');
  await section.locator('.never-drilled').waitFor();
  await page.getByRole('button', { name: 'Drill', exact: true }).click();
  // the job is followed in the page with the job page's live progress
  const live = section.locator('.drill-live');
  await live.waitFor({ timeout: 30_000 });
  assert.match(await live.locator('a').first().getAttribute('href'), /^\/jobs\/[0-9a-f-]+$/);
  await live.locator('.badge', { hasText: /succeeded|failed|cancelled/ }).waitFor({ timeout: 300_000 });
  assert.equal((await live.locator('.badge').textContent()).trim(), 'succeeded', await live.textContent());
  assert.match(await live.locator('.pct').textContent(), /100%/);
  // when it ends, the section shows the report without a reload
  const report = section.locator('.drill-report');
  await report.locator('.badge', { hasText: 'passed' }).waitFor({ timeout: 30_000 });
  assert.equal(await section.locator('.never-drilled').count(), 0);
  assert.match(await report.locator('.recovery-time').textContent(), /\d+(\.\d)? (ms|s)|min/);
  assert.match(await report.locator('.drill-milvus').textContent(), /2\.3\.5/);
  const row = report.locator('table.drill-collections tr', { hasText: 'default.demo_products' });
  assert.match(await row.locator('td.recall').textContent(), /^\d+(\.\d)?% \((\d+) of \d+\)$/);
  assert.match(await row.locator('td.keys').textContent(), /^(\d+) of \1$/, 'every sampled key found');
  await shot(page, '11b-drill-detail');
  // read back from the database after a reload
  await open(page, `${BASE}/backups/${BACKUP}`);
  await section.locator('.drill-report .badge', { hasText: 'passed' }).waitFor();
  // the Backups list: passed for the drilled backup (its evidence on hover), never for another
  await open(page, `${BASE}/`);
  const drilled = page.locator('table.backups tr', { hasText: BACKUP }).first().locator('td.drill .badge');
  assert.equal((await drilled.textContent()).trim(), 'passed');
  assert.match(await drilled.getAttribute('title'), /^recovery time .+ · recall \d+(\.\d)?%$/);
  const other = page.locator('table.backups tr', { hasText: DAMAGED }).locator('td.drill .badge');
  assert.equal((await other.textContent()).trim(), 'never');
  await shot(page, '11c-backups-drill');
  await page.close();
});

test('policies: add one with its next runs shown as you type, run it now, pause it', async () => {
  const page = await newPage();
  const name = `e2e_pol_${RUN}`;
  await open(page, `${BASE}/policies`);
  await page.fill('#policy-name', name);
  await page.fill('#policy-collections', 'demo_products');
  await page.fill('#policy-cron', '0 25 * * *');
  await page.locator('.schedule-preview .field-error', { hasText: 'not valid' }).waitFor();
  await page.fill('#policy-cron', '0 3 * * *');
  await page.fill('#policy-tz', 'Europe/Berlin');
  // 03:00 in Berlin is 02:00 UTC in winter: the preview lists five runs
  await page.locator('.schedule-preview li').nth(4).waitFor();
  assert.match(await page.locator('.schedule-preview li').first().textContent(), /0[12]:00/);
  await page.fill('#keep-last', '2');
  await shot(page, '13-policy-form');
  await page.getByRole('button', { name: 'Add policy' }).click();
  const row = page.locator(`tr[data-policy="${name}"]`);
  await row.waitFor();
  assert.equal(await row.locator('.next-runs li').count(), 3);
  assert.match(await row.textContent(), /keep last 2, 7 daily/);

  await row.getByRole('button', { name: 'Run now' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]+$/, { timeout: 30_000 });
  await page.locator('.badge', { hasText: /succeeded|failed/ }).waitFor({ timeout: 180_000 });
  assert.equal((await page.locator('.badge').first().textContent()).trim(), 'succeeded');
  await open(page, `${BASE}/policies`);
  const last = page.locator(`tr[data-policy="${name}"] td.last-run`);
  await last.locator('.badge', { hasText: /succeeded/ }).waitFor({ timeout: 60_000 });
  assert.match(await last.textContent(), new RegExp(`${name}_\\d{8}_\\d{6}`));
  assert.ok(fs.existsSync(path.join(BACKUPS, (await last.locator('a').textContent()).trim(), 'meta', 'milvault_manifest.json')));

  await page.locator(`tr[data-policy="${name}"]`).getByRole('button', { name: 'Pause' }).click();
  await page.locator(`tr[data-policy="${name}"] .badge-paused`).waitFor();
  await shot(page, '14-policies');
  await page.close();
});

test('delete goes through a confirmation that names the backup', async () => {
  const page = await newPage();
  await open(page, `${BASE}/backups/${BACKUP}`);
  await page.getByRole('button', { name: 'Delete this backup…' }).click();
  const del = page.getByRole('button', { name: `Delete ${BACKUP}` });
  assert.ok(await del.isDisabled());
  await page.fill('input[name=confirm-name]', 'wrong');
  assert.ok(await del.isDisabled());
  await page.fill('input[name=confirm-name]', BACKUP);
  await shot(page, '10-delete-confirm');
  await del.click();
  await page.waitForURL(`${BASE}/`);
  await page.locator('h1', { hasText: 'Backups' }).waitFor();
  assert.equal(await page.locator('table.backups tr', { hasText: BACKUP }).count(), 0);
  assert.equal(fs.existsSync(path.join(BACKUPS, BACKUP)), false, 'files removed');
  await page.close();
});

test('with Milvus unreachable the pages say so instead of breaking', { skip: !DOWN }, async () => {
  const page = await newPage();
  await open(page, `${DOWN}/cluster`);
  assert.ok(await page.locator('.checks li.fail').count() >= 1);
  await shot(page, '11-cluster-down');
  await open(page, `${DOWN}/new`);
  const err = await page.locator('.error').textContent();
  assert.match(err, /Milvus/i);
  await shot(page, '12-new-backup-down');
  await page.close();
});

test('a failed job is told to the webhook, signed, and listed on the Policies page', { skip: !DOWN }, async () => {
  // the receiver answers the first try 503: milvault tries again
  const got = [];
  const name = `e2e_hook_${RUN}`;
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      const ofOurs = got.filter((g) => g.body.includes(name)).length;
      res.statusCode = body.includes(name) && ofOurs === 1 ? 503 : 204;
      res.end();
    });
  });
  await new Promise((resolve) => receiver.listen(3019, '127.0.0.1', resolve));
  try {
    const r = await fetch(`${DOWN}/api/v2/backups`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, collections: ['demo_products'] }),
    });
    assert.equal(r.status, 202);
    const ours = () => got.filter((g) => g.body.includes(name));
    for (let i = 0; i < 100 && ours().length < 2; i++) await new Promise((ok) => setTimeout(ok, 100));
    assert.equal(ours().length, 2, 'one 503, then delivered');
    for (const { headers, body } of ours()) {
      assert.equal(headers['x-milvault-event'], 'job.failed');
      const mac = crypto.createHmac('sha256', 'e2e-hook-secret')
        .update(`${headers['x-milvault-timestamp']}.${body}`).digest('hex');
      assert.equal(headers['x-milvault-signature'], `sha256=${mac}`);
      const event = JSON.parse(body);
      assert.equal(event.backup, name);
      assert.match(event.detail, /Milvus/);
    }
    const page = await newPage();
    await open(page, `${DOWN}/policies`);
    const row = page.locator('table.deliveries tr', { hasText: name });
    await row.waitFor();
    assert.match(await row.textContent(), /delivered \(204\)/);
    assert.match(await row.textContent(), /job\.failed/);
    const hooks = await page.locator('table.webhooks').textContent();
    assert.match(hooks, /http:\/\/127\.0\.0\.1:3019/);
    assert.ok(!hooks.includes('t0ken') && !(await page.content()).includes('e2e-hook-secret'), 'no secret reaches the browser');
    await shot(page, '15-notifications');
    await page.close();
  } finally {
    receiver.close();
  }
});

test('cluster page, then every page at 1280 px and at a phone\'s width without sideways scrolling', async () => {
  const page = await newPage();
  await open(page, `${BASE}/cluster`);
  assert.ok(await page.locator('.checks li.ok').count() >= 1);
  assert.match(await page.locator('main').textContent(), /2\.3\.5/);
  await shot(page, '13-cluster');
  // a backup and a job that exist now
  await open(page, `${BASE}/`);
  const detail = await page.locator('table.backups tbody tr td:first-child a').first().getAttribute('href');
  await open(page, `${BASE}/jobs`);
  const job = await page.locator('main a[href^="/jobs/"]').first().getAttribute('href');
  await page.close();
  const pages = [
    ['backups', '/'], ['new-backup', '/new'], ['backup-detail', detail],
    ['restore', `/restore/${detail.split('/').pop()}`], ['jobs', '/jobs'], ['job', job],
    ['policies', '/policies'], ['cluster', '/cluster'], ['account', '/account'],
    ['users', '/users'], ['audit', '/audit'],
  ];
  for (const [width, height, tag] of [[1280, 900, 'desktop'], [390, 844, 'phone']]) {
    const p = await newPage(width, height);
    for (const [label, url] of pages) {
      await open(p, `${BASE}${url}`);
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      // what sticks out, innermost first, to say what to fix
      const wide = overflow <= 1 ? [] : await p.evaluate(() => [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'))
        .filter((e) => ![...e.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 1))
        .slice(0, 3)
        .map((e) => `${e.tagName.toLowerCase()}.${e.className} (${Math.round(e.getBoundingClientRect().right)} px): ${e.textContent.slice(0, 40)}`));
      assert.ok(overflow <= 1, `${label} (${url}) at ${width} px scrolls sideways by ${overflow} px: ${wide.join('; ')}`);
      await shot(p, `pages-${tag}-${label}`);
    }
    await p.close();
  }
});

test('no console errors on any page', () => {
  assert.deepEqual(consoleErrors, []);
});
