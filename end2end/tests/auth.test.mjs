// Sign-in, a scoped restore and the audit page in real Chromium, against a milvault server started
// with --auth (scripts/test.sh creates its users with `milvault user add`):
//   MILVAULT_AUTH_URL           the server
//   MILVAULT_AUTH_ADMIN_TOKEN   an API token of its admin `root`
// alice is a member of the `shop` database only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchChromium, milvusCount, newPageOf } from '../lib/browser.mjs';

const BASE = process.env.MILVAULT_AUTH_URL;
const TOKEN = process.env.MILVAULT_AUTH_ADMIN_TOKEN;
const SHOTS = process.env.MILVAULT_E2E_SHOTS ?? 'test-output/screenshots';
const RUN = Math.random().toString(36).slice(2, 8);
const SHOP = `e2e_shop_${RUN}`;
const OTHER = `e2e_default_${RUN}`;
const skip = !BASE || !TOKEN;

let browser;
const consoleErrors = [];

before(async () => {
  if (skip) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
  // the admin backs up one collection of each database, through the API with its token
  for (const [name, coll] of [[SHOP, 'shop.reviews'], [OTHER, 'demo_products']]) {
    const r = await fetch(`${BASE}/api/v2/backups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, collections: [coll] }),
    });
    const body = await r.text();
    assert.equal(r.status, 202, body);
    const { id } = JSON.parse(body);
    for (let i = 0; ; i++) {
      const job = await (await fetch(`${BASE}/api/v2/jobs/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
      if (job.state !== 'running') { assert.equal(job.state, 'succeeded', JSON.stringify(job)); break; }
      assert.ok(i < 300, `backup ${name} did not finish`);
      await new Promise((res) => setTimeout(res, 500));
    }
  }
});

after(async () => {
  await browser?.close();
});

function newPage() {
  return newPageOf(browser, consoleErrors);
}

async function hydrated(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
}

async function signIn(page, user, password, next = '/') {
  await page.goto(`${BASE}${next}`);
  await page.waitForURL(/\/login\?next=/);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${BASE}${next}`);
  await hydrated(page);
}


test('sign-in: every page needs it, a wrong password is refused, the right one goes where you were going', { skip }, async () => {
  const page = await newPage();
  const resp = await page.goto(`${BASE}/jobs`);
  assert.ok(resp.ok());
  assert.match(page.url(), /\/login\?next=%2Fjobs$/);
  await page.fill('#user', 'alice');
  await page.fill('#password', 'not her password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.error', { hasText: 'wrong user name or password' }).waitFor();
  await page.screenshot({ path: path.join(SHOTS, 'auth-01-wrong-password.png') });
  await page.fill('#password', 'e2e alice password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${BASE}/jobs`);
  await hydrated(page);
  assert.equal((await page.locator('.signed-in-as').textContent()).trim(), 'alice');
  // members get no Users or Audit links
  assert.equal(await page.locator('.user-menu a[href="/audit"]').count(), 0);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'milvault_session');
  assert.ok(session.httpOnly && session.sameSite === 'Strict', JSON.stringify(session));
  await page.close();
});

test('a member sees only her database, restores into it, and is refused the rest', { skip }, async () => {
  const page = await newPage();
  await signIn(page, 'alice', 'e2e alice password');
  await page.locator('main table td', { hasText: SHOP }).first().waitFor();
  assert.equal(await page.locator(`text=${OTHER}`).count(), 0, 'the other database\'s backup is not listed');
  await page.screenshot({ path: path.join(SHOTS, 'auth-02-member-backups.png'), fullPage: true });

  const suffix = `_a${RUN}`;
  await page.goto(`${BASE}/restore/${SHOP}`);
  await hydrated(page);
  await page.fill('input[name=suffix]', suffix);
  await page.locator('.preview strong.target', { hasText: `shop.reviews${suffix}` }).waitFor();
  await page.getByRole('button', { name: 'Start restore' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]+$/, { timeout: 30_000 });
  await page.locator('.badge', { hasText: /succeeded|failed/ }).waitFor({ timeout: 300_000 });
  assert.equal((await page.locator('.badge').first().textContent()).trim(), 'succeeded',
    await page.locator('main').textContent());
  await page.screenshot({ path: path.join(SHOTS, 'auth-03-member-restore.png'), fullPage: true });
  const source = milvusCount('shop', 'reviews');
  assert.ok(source > 0);
  assert.equal(milvusCount('shop', `reviews${suffix}`), source);

  // her own API token from the Account page: shown once, works, revoked
  await page.goto(`${BASE}/account`);
  await hydrated(page);
  assert.match(await page.locator('.whoami').textContent(), /alice.*member.*shop/);
  await page.fill('#token-name', 'e2e script');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.locator('.token-secret').textContent()).trim();
  assert.match(token, /^mvt_/);
  const withToken = async () => (await fetch(`${BASE}/api/v2/backups`, { headers: { authorization: `Bearer ${token}` } })).status;
  assert.equal(await withToken(), 200);
  const row = page.locator('tr[data-token="e2e script"]');
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.locator('.badge', { hasText: 'revoked' }).waitFor();
  assert.equal(await withToken(), 401);

  // a drill restores into a scratch database outside hers: her backup's page has no Drill button
  await page.goto(`${BASE}/backups/${SHOP}`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Verify files' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Drill', exact: true }).count(), 0);
  assert.equal((await page.locator('.drill-section .never-drilled').count()), 1);

  // the other database's backup does not exist for her: its page and the API from her session
  // answer as for a missing backup
  await page.goto(`${BASE}/backups/${OTHER}`);
  await hydrated(page);
  await page.locator('.error', { hasText: 'does not exist' }).waitFor();
  const status = await page.evaluate(async (name) => {
    const r = await fetch(`/api/v2/backups/${name}/restore`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"suffix":"_stolen"}',
    });
    return r.status;
  }, OTHER);
  assert.equal(status, 404);
  // restoring her own backup into the other database: the form's preview says no
  await page.goto(`${BASE}/restore/${SHOP}`);
  await hydrated(page);
  await page.fill('input[name=target_db]', 'default');
  await page.locator('.error', { hasText: 'outside yours' }).waitFor();
  await page.screenshot({ path: path.join(SHOTS, 'auth-04-member-refused.png'), fullPage: true });
  await page.close();
});

test('archives with a session: the admin downloads from the link and uploads on Backups; a member is refused another database\'s', { skip }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'milvault-auth-archive-'));
  try {
    const page = await newPage();
    await signIn(page, 'root', 'e2e admin password', `/backups/${OTHER}`);
    // a GET with the session cookie: the link downloads the archive
    const [dl] = await Promise.all([page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download archive (.tar)' }).click()]);
    const tar = path.join(tmp, `${OTHER}.tar`);
    await dl.saveAs(tar);
    const entries = execFileSync('tar', ['-tf', tar], { encoding: 'utf8' });
    assert.match(entries, /^meta\/backup_meta\.json$/m);
    // the upload posts with the session cookie from the portal's own page (same origin)
    const copy = `${OTHER}_up`;
    await page.goto(`${BASE}/`);
    await hydrated(page);
    await page.locator('details.upload-archive summary').click();
    await page.locator('#archive-file').setInputFiles(tar);
    await page.fill('#archive-name', copy);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('.upload-done', { hasText: `Imported ${copy}` }).waitFor({ timeout: 120_000 });
    await page.locator('table.backups tr', { hasText: copy }).waitFor();
    // the same POST from a page of another origin carries no proof of the portal: refused
    const cross = await fetch(`${BASE}/api/v2/backups/archive?name=${copy}_x`, {
      method: 'POST',
      headers: { cookie: `milvault_session=${(await page.context().cookies()).find((c) => c.name === 'milvault_session').value}`,
        origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'application/octet-stream' },
      body: fs.readFileSync(tar),
    });
    assert.equal(cross.status, 403);
    await page.close();

    // alice may make backups of `shop` only: an archive of the default database is refused
    const alice = await newPage();
    await signIn(alice, 'alice', 'e2e alice password');
    await alice.locator('details.upload-archive summary').click();
    await alice.locator('#archive-file').setInputFiles(tar);
    await alice.fill('#archive-name', `${OTHER}_alice`);
    await alice.getByRole('button', { name: 'Upload' }).click();
    const refused = alice.locator('.upload-refused .error');
    await refused.waitFor({ timeout: 60_000 });
    assert.match(await refused.textContent(), /The archive was refused: not allowed: .*database\(s\) default outside yours \(shop\)/);
    await alice.screenshot({ path: path.join(SHOTS, 'auth-06-archive-refused.png'), fullPage: true });
    await alice.close();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('audit: the admin sees sign-ins, restores and refusals, filters them and exports CSV', { skip }, async () => {
  const page = await newPage();
  await signIn(page, 'root', 'e2e admin password', '/audit');
  await page.locator('table.audit tbody tr').first().waitFor();
  await page.selectOption('#f-outcome', 'denied');
  await page.locator('table.audit tr.audit-denied td.actor', { hasText: 'alice' }).first().waitFor();
  // the unfiltered list has refusals too: wait until the filtered list has replaced it
  await page.waitForFunction(() =>
    document.querySelectorAll('table.audit tbody tr.audit-denied').length > 0
    && document.querySelectorAll('table.audit tbody tr:not(.audit-denied)').length === 0);
  assert.equal(await page.locator('table.audit tbody tr:not(.audit-denied)').count(), 0, 'only refusals listed');
  const targets = await page.locator('table.audit tr.audit-denied td.target').allTextContents();
  assert.ok(targets.some((t) => t.includes(OTHER)), targets.join(' | '));
  await page.screenshot({ path: path.join(SHOTS, 'auth-05-audit-denied.png'), fullPage: true });

  await page.selectOption('#f-outcome', 'ok');
  await page.selectOption('#f-action', 'backup.restore');
  await page.locator('table.audit td.target', { hasText: SHOP }).first().waitFor();
  const href = await page.locator('a.export-csv').getAttribute('href');
  assert.match(href, /format=csv/);
  assert.match(href, /outcome=ok/);
  const csv = await page.evaluate(async (u) => (await fetch(u)).text(), href);
  assert.match(csv, /^seq,at,actor,via,action,target,source,outcome,detail\n/);
  assert.match(csv, new RegExp(`alice,session,backup\\.restore,${SHOP},`));

  // an admin adds a user on the Users page; the new viewer signs in and can change nothing
  await page.goto(`${BASE}/users`);
  await hydrated(page);
  await page.fill('#user-name', `vera${RUN}`);
  await page.fill('#user-password', 'vera long password');
  await page.selectOption('#user-role', 'viewer');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.locator(`tr[data-user="vera${RUN}"]`).waitFor();
  const vera = await newPage();
  await signIn(vera, `vera${RUN}`, 'vera long password');
  // a viewer makes no backups: the Backups page offers no archive upload
  await vera.locator('main h1', { hasText: 'Backups' }).waitFor();
  assert.equal(await vera.locator('details.upload-archive').count(), 0);
  const denied = await vera.evaluate(async (name) => (await fetch(`/api/v2/backups/${name}`, { method: 'DELETE' })).status, SHOP);
  assert.equal(denied, 403);
  await vera.close();

  // sign out: the session is gone
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login$/);
  await page.goto(`${BASE}/audit`);
  assert.match(page.url(), /\/login\?next=/);
  await page.close();
});

test('no console errors on the signed-in pages', { skip }, () => {
  // the refusals this file provokes on purpose are logged by Chromium as failed loads (a backup
  // outside the member's databases answers 404, as a missing one does)
  const expected = /Failed to load resource: the server responded with a status of (401|403|404|500)/;
  assert.deepEqual(consoleErrors.filter((e) => !expected.test(e)), []);
});
