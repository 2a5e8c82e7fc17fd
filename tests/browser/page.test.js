// Drives tend-web's status page in Debian's headless Chromium (run by tests/e2e/browser.sh,
// which starts tend with programs a and b and gives the page's URL). It checks what a person
// would see: every process listed with its state and pid; the restart button of a restarts
// it and the row shows the new pid; b, killed from outside (SIGKILL by this script), shows
// up restarted with no reload of the page; the log panel follows a's output live. Prints
// one "ok WHAT" line per check and "result KEY VALUE" lines for the shell to compare with
// `tend`; exits non-zero on the first failure.
'use strict';
const puppeteer = require('puppeteer-core');

const [url, userDataDir] = process.argv.slice(2);
const deadline = 20000;

function say(...words) { process.stdout.write(words.join(' ') + '\n'); }

async function rowField(page, name, field) {
  return page.$eval(`tr[data-name="${name}"] td[data-field="${field}"]`, (td) => td.textContent);
}

async function waitRow(page, name, pred, what) {
  await page.waitForFunction(pred, {timeout: deadline, polling: 100}, name).catch(() => {
    throw new Error(`timed out waiting for ${what}`);
  });
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    userDataDir,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let failed = false;
  try {
    const page = await browser.newPage();
    await page.setViewport({width: 390, height: 844, isMobile: true}); // a phone
    const problems = [];
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
    page.on('requestfailed', (r) => {
      if (!r.url().includes('/log/follow')) problems.push('request failed: ' + r.url());
    });
    let navigations = 0;
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
    const external = [];
    page.on('request', (r) => { if (!r.url().startsWith(url)) external.push(r.url()); });

    await page.goto(url, {waitUntil: 'load', timeout: deadline});
    const isRunning = (n) => {
      const td = document.querySelector(`tr[data-name="${n}"] td[data-field="state"]`);
      return td !== null && td.textContent === 'RUNNING';
    };
    await waitRow(page, 'a', isRunning, 'a RUNNING in the table');
    await waitRow(page, 'b', isRunning, 'b RUNNING in the table');
    const names = await page.$$eval('#procs tbody tr', (rows) => rows.map((r) => r.dataset.name));
    say('ok lists', names.join(','));
    say('result listed', names.sort().join(','));
    const pidA = await rowField(page, 'a', 'pid');
    const pidB = await rowField(page, 'b', 'pid');
    say('result old_a', pidA);
    say('result old_b', pidB);

    // The restart button of a: the row shows a new pid.
    await page.click('tr[data-name="a"] button[data-action="restart"]');
    await waitRow(page, [ 'a', pidA ], ([n, old]) => {
      const pid = document.querySelector(`tr[data-name="${n}"] td[data-field="pid"]`);
      const st = document.querySelector(`tr[data-name="${n}"] td[data-field="state"]`);
      return pid && st && st.textContent === 'RUNNING' && pid.textContent !== old &&
             pid.textContent !== '-';
    }, 'a new pid for a after the restart button');
    say('result new_a', await rowField(page, 'a', 'pid'));
    say('ok restart button', await page.$eval('#result', (p) => p.textContent));

    // b killed from outside: the page shows it restarted, by itself.
    process.kill(Number(pidB), 'SIGKILL');
    await waitRow(page, [ 'b', pidB ], ([n, old]) => {
      const pid = document.querySelector(`tr[data-name="${n}"] td[data-field="pid"]`);
      const st = document.querySelector(`tr[data-name="${n}"] td[data-field="state"]`);
      return pid && st && st.textContent === 'RUNNING' && pid.textContent !== old &&
             pid.textContent !== '-';
    }, 'b restarted after SIGKILL');
    say('result new_b', await rowField(page, 'b', 'pid'));
    say('result restarts_b', await rowField(page, 'b', 'restarts'));
    say('ok killed process shown restarted');

    // The log panel follows a's output as it is written.
    await page.click('tr[data-name="a"] button[data-action="log"]');
    const first = await page.waitForFunction(() => {
      const m = document.getElementById('log').textContent.match(/a line (\d+)\n/g);
      return m && m.length > 0 ? Number(m[m.length - 1].match(/\d+/)[0]) : 0;
    }, {timeout: deadline, polling: 100}).then((h) => h.jsonValue());
    await page.waitForFunction((n) => document.getElementById('log').textContent
      .includes(`a line ${n + 3}\n`), {timeout: deadline, polling: 100}, first);
    say('ok log follows', `from line ${first} to ${first + 3}`);

    if (navigations !== 1) throw new Error(`the page navigated ${navigations} times`);
    say('ok no reload');
    if (external.length) throw new Error('requests outside tend-web: ' + external.join(' '));
    say('ok no external request');
    if (problems.length) throw new Error(problems.join('; '));
    say('ok no script error');
  } catch (e) {
    failed = true;
    say('FAIL', e.message);
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})();
