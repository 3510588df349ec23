// What the browser test files share: Debian's Chromium started the way this machine allows, pages
// that collect console errors, and row counts asked of Milvus itself through pymilvus.
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';

const PYTHON = process.env.MILVAULT_TEST_PYTHON ?? 'python3';

/** Headless Chromium with the flags this closed network needs. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A new page (its own cookies) whose console errors and page errors go into `errors`. */
export async function newPageOf(browser, errors, width = 1280, height = 900) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  return page;
}

/** The rows Milvus counts in a collection (loaded, strong consistency). */
export function milvusCount(db, collection) {
  const code = `
from pymilvus import connections, Collection
connections.connect(uri="http://127.0.0.1:19530", db_name="${db}")
c = Collection("${collection}")
c.load()
print(c.query(expr="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"])
`;
  return Number(execFileSync(PYTHON, ['-c', code], { encoding: 'utf8' }).trim().split('\n').pop());
}
