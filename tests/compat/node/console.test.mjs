// The web console (/_cognate/console/) in Debian's Chromium (playwright-core), walking a
// developer's path: create a pool and an app client in the console, attach a node PreSignUp
// trigger declared in cognate.toml, sign a user up with amazon-cognito-identity-js and watch the
// invocation arrive in the open timeline with its event, response and logs, see a failing
// sign-up's error and run it again, read the code in the outbox, and confirm the user on its
// page. Any console error in the page fails the test. Also: GET / lands in the console, the
// console's headers (CSP), and its API refusing other origins. Screenshots go to
// docs/screenshots/console-*.png.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import cognito from 'amazon-cognito-identity-js';

import { assertNoErrors, launchBrowser, openPage, screenshot } from './browser.mjs';
import { api, call, outbox, startServer } from './helpers.mjs';

const { CognitoUserAttribute, CognitoUserPool } = cognito;

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = resolve(here, 'fixtures/console');
const SCREENSHOTS = resolve(here, '../../../docs/screenshots');
const PASSWORD = 'Correct-horse-1';
const ARN = (name) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
// Markup in an attribute: the console must show it as text, never run it.
const HOSTILE_NAME = '<img src=x onerror="window.__xss=1">Ana';

describe('the web console in Chromium', () => {
  let server;
  let browser;
  let configDir;

  before(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'cognate-console-'));
    const toml = join(configDir, 'cognate.toml');
    writeFileSync(
      toml,
      ['[functions.pre-sign-up]', 'runtime = "node"', `handler = ${JSON.stringify(join(FIXTURES, 'pre_sign_up.handler'))}`, ''].join('\n'),
    );
    const started = await Promise.allSettled([
      startServer({ args: ['--config', toml] }).then((s) => (server = s)),
      launchBrowser().then((b) => (browser = b)),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  test('GET / leads to the console, served with a strict content security policy', async () => {
    const root = await fetch(`${server.url}/`, { redirect: 'manual' });
    assert.ok([302, 303, 307, 308].includes(root.status), `GET / answered ${root.status}`);
    assert.equal(root.headers.get('location'), '/_cognate/console/');
    for (const path of ['/_cognate/console/', '/_cognate/console/console.js', '/_cognate/console/console.css']) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 200, path);
      const csp = res.headers.get('content-security-policy') || '';
      assert.match(csp, /script-src 'self'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    }
  });

  test("the console's API answers its own origin and refuses other ones", async () => {
    const url = `${server.url}/_cognate/console/api/info`;
    const own = await fetch(url, { headers: { Origin: server.url, 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(own.status, 200);
    assert.equal((await own.json()).region, 'us-east-1');
    for (const headers of [
      { Origin: 'http://evil.test' },
      { Origin: `http://localhost:${server.port + 1}` },
      { Origin: 'null' },
      { 'Sec-Fetch-Site': 'cross-site' },
    ]) {
      const res = await fetch(url, { headers });
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal((await res.json()).__type, 'AccessDeniedException');
    }
    const rerun = await fetch(`${server.url}/_cognate/console/api/invocations/1/rerun`, {
      method: 'POST',
      headers: { Origin: 'http://evil.test' },
    });
    assert.equal(rerun.status, 403);
  });

  test("a developer's path: pool, client, trigger, live timeline, failing trigger, outbox, confirmation", async () => {
    const handle = await openPage(browser, { contextOptions: { viewport: { width: 1280, height: 900 } } });
    const { page } = handle;
    try {
      await page.goto(`${server.url}/`);
      await page.waitForURL(/\/_cognate\/console\/#\/pools$/);
      await page.getByRole('heading', { name: 'User pools' }).waitFor();

      // A pool, created in the console.
      const createPool = page.getByRole('form', { name: 'Create a pool' });
      await createPool.getByLabel('Name', { exact: true }).fill('shop');
      await createPool.getByRole('button', { name: 'Create pool' }).click();
      await page.waitForURL(/#\/pools\/us-east-1_/);
      const poolId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
      await page.getByRole('heading', { name: /shop/ }).first().waitFor();

      // An app client.
      const createClient = page.getByRole('form', { name: 'Create an app client' });
      await createClient.getByLabel('Name', { exact: true }).fill('web');
      await createClient.getByRole('button', { name: 'Create client' }).click();
      const clients = page.getByRole('region', { name: 'App clients' });
      await clients.getByRole('rowheader', { name: 'web' }).waitFor();
      const { UserPoolClients } = await api(server.url, 'ListUserPoolClients', { UserPoolId: poolId, MaxResults: 10 });
      assert.equal(UserPoolClients.length, 1);
      const clientId = UserPoolClients[0].ClientId;
      assert.ok(await clients.getByText(clientId).isVisible());

      // The node PreSignUp trigger from cognate.toml, and a function that does not exist.
      const attach = page.getByRole('form', { name: 'Attach a trigger' });
      await attach.getByLabel('Trigger').selectOption('PreSignUp');
      await attach.getByLabel('Function').fill(ARN('pre-sign-up'));
      await attach.getByRole('button', { name: 'Attach' }).click();
      const triggers = page.getByRole('region', { name: 'Triggers' });
      const preSignUp = triggers.getByRole('row', { name: /PreSignUp/ });
      await preSignUp.getByText('resolves', { exact: true }).waitFor();
      assert.match(await preSignUp.innerText(), /pre-sign-up \(node, cognate\.toml\)/);
      assert.match(await preSignUp.innerText(), /pre_sign_up\.mjs → handler/);
      await page.getByRole('form', { name: 'Attach a trigger' }).getByLabel('Trigger').selectOption('PostAuthentication');
      await page.getByRole('form', { name: 'Attach a trigger' }).getByLabel('Function').fill(ARN('not-deployed'));
      await page.getByRole('form', { name: 'Attach a trigger' }).getByRole('button', { name: 'Attach' }).click();
      const missing = page.getByRole('region', { name: 'Triggers' }).getByRole('row', { name: /PostAuthentication/ });
      await missing.getByText('does not resolve').waitFor();
      assert.match(await missing.innerText(), /Function not found/);
      const { UserPool } = await api(server.url, 'DescribeUserPool', { UserPoolId: poolId });
      assert.equal(UserPool.LambdaConfig.PreSignUp, ARN('pre-sign-up'));
      assert.deepEqual(UserPool.AutoVerifiedAttributes, ['email']);

      // The timeline of this pool is open while an app signs a user up.
      await page.getByRole('navigation', { name: 'Pool shop' }).getByRole('link', { name: 'Trigger timeline' }).click();
      await page.getByRole('heading', { name: 'Trigger timeline' }).waitFor();
      await page.getByText('No invocations yet.', { exact: false }).waitFor();
      const appPool = new CognitoUserPool({ UserPoolId: poolId, ClientId: clientId, endpoint: server.url });
      await call((cb) => appPool.signUp('ana', PASSWORD, [
        new CognitoUserAttribute({ Name: 'email', Value: 'ana@example.com' }),
        new CognitoUserAttribute({ Name: 'name', Value: HOSTILE_NAME }),
      ], null, cb));

      const anaEntry = page.locator('details.inv', { hasText: 'PreSignUp_SignUp' }).filter({ hasText: 'ana' }).first();
      await anaEntry.waitFor();
      assert.match(await anaEntry.locator('summary').innerText(), /ok/);
      assert.match(await anaEntry.locator('summary').innerText(), /pre-sign-up \(node\)/);
      await anaEntry.locator('summary').click();
      await anaEntry.locator('pre[aria-label="Event"]').waitFor();
      const eventText = await anaEntry.locator('pre[aria-label="Event"]').innerText();
      assert.equal(JSON.parse(eventText).userName, 'ana');
      assert.equal(JSON.parse(eventText).request.userAttributes.name, HOSTILE_NAME);
      const responseText = await anaEntry.locator('pre[aria-label="Response"]').innerText();
      assert.ok('autoConfirmUser' in JSON.parse(responseText).response, responseText);
      assert.match(await anaEntry.locator('pre[aria-label="Logs"]').innerText(), /PreSignUp for ana <ana@example\.com>/);

      // Invocations are grouped by the API call that caused them: the group of a SignUp is named
      // for it and carries the x-amzn-RequestId its answer had.
      const signUp = await fetch(`${server.url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityProviderService.SignUp' },
        body: JSON.stringify({ ClientId: clientId, Username: 'bea', Password: PASSWORD, UserAttributes: [{ Name: 'email', Value: 'bea@example.com' }] }),
      });
      assert.equal(signUp.status, 200);
      const requestId = signUp.headers.get('x-amzn-requestid');
      const group = page.locator(`li.group[data-request="${requestId}"]`);
      await group.locator('details.inv', { hasText: 'PreSignUp_SignUp' }).filter({ hasText: 'bea' }).waitFor();
      assert.match(await group.locator('.group-head').innerText(), new RegExp(`^SignUp.*${requestId}`, 's'));
      assert.equal(await group.locator('details.inv').count(), 1);
      const anaGroup = page.locator('li.group', { has: page.locator('details.inv', { hasText: 'ana' }) });
      assert.match(await anaGroup.first().locator('.group-head').innerText(), /^SignUp/);

      // A sign-up the trigger refuses: the app gets Cognito's error, the timeline shows it.
      await assert.rejects(
        call((cb) => appPool.signUp('eve', PASSWORD, [new CognitoUserAttribute({ Name: 'email', Value: 'eve@blocked.example' })], null, cb)),
        (err) => err.code === 'UserLambdaValidationException',
      );
      await page.locator('details.inv.failed', { hasText: 'eve' }).first().waitFor();
      // Entries arrive at the top, so the one under test is pinned by its id.
      const failedId = await page.locator('details.inv.failed', { hasText: 'eve' }).first().getAttribute('data-id');
      const failed = page.locator(`details.inv[data-id="${failedId}"]`);
      const failedSummary = await failed.first().locator('summary').innerText();
      assert.match(failedSummary, /failed: function/);
      assert.match(failedSummary, /UserLambdaValidationException: PreSignUp failed with error Sign-ups from blocked\.example are closed\./);
      await failed.first().locator('summary').click();
      assert.match(await failed.first().locator('pre[aria-label="Error"]').first().innerText(), /Sign-ups from blocked\.example are closed\./);

      // "Run again" runs the function with the recorded event: the same error, a new entry.
      await failed.first().getByRole('button', { name: 'Run again' }).click();
      const rerun = failed.first().locator('.rerun-out');
      await rerun.getByText('UserLambdaValidationException', { exact: false }).waitFor();
      await page.locator('details.inv.failed', { hasText: 'eve' }).nth(1).waitFor();
      const newest = await page.locator('details.inv').first().getAttribute('data-id');
      assert.ok(Number(newest) > Number(failedId), `${newest} after ${failedId}`);

      // Filters: only failed invocations.
      await page.getByRole('form', { name: 'Filter invocations' }).getByLabel('Outcome').selectOption('failed');
      await page.waitForURL(/outcome=failed/);
      // The unfiltered view stays until the filtered one is built: wait for it to go.
      await page.waitForFunction(() => document.querySelectorAll('details.inv.failed').length > 0
        && document.querySelectorAll('details.inv:not(.failed)').length === 0, null, { timeout: 10_000 });
      assert.equal(await page.locator('details.inv:not(.failed)').count(), 0);
      await page.getByRole('form', { name: 'Filter invocations' }).getByLabel('Outcome').selectOption({ index: 0 });
      await page.waitForURL((u) => !u.hash.includes('outcome='));
      const ana = page.locator('details.inv', { hasText: 'PreSignUp_SignUp' }).filter({ hasText: 'ana' }).first();
      await ana.locator('summary').click();
      await ana.locator('pre[aria-label="Event"]').waitFor();
      await screenshot(page, join(SCREENSHOTS, 'console-timeline.png'));

      // The outbox, with the code the sign-up emailed.
      const [message] = await outbox(server.url, poolId, 'ana');
      assert.match(message.code, /^\d{6}$/);
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Outbox' }).click();
      await page.getByRole('heading', { name: 'Outbox' }).waitFor();
      const row = page.locator('table.outbox tbody tr', { hasText: 'ana@example.com' });
      await row.waitFor();
      assert.equal(await row.locator('code.code').innerText(), message.code);
      await row.locator('summary').click();
      assert.match(await row.locator('pre[aria-label="Message body"]').innerText(), new RegExp(message.code));

      // The user's page: attributes as text, the invocation and message, then confirmation.
      await row.getByRole('link', { name: 'ana', exact: true }).click();
      await page.getByRole('heading', { name: /ana/ }).first().waitFor();
      const account = page.getByRole('region', { name: 'Account' });
      await page.getByRole('heading', { level: 1 }).getByText('UNCONFIRMED').waitFor();
      const attributes = page.getByRole('region', { name: 'Attributes' });
      assert.equal(await attributes.getByRole('row', { name: /^name / }).locator('.value').innerText(), HOSTILE_NAME);
      assert.equal(await page.locator('main img').count(), 0);
      await page.getByRole('region', { name: 'Trigger invocations' }).locator('details.inv', { hasText: 'PreSignUp_SignUp' }).waitFor();
      await page.getByRole('region', { name: 'Messages' }).getByText(message.code, { exact: true }).waitFor();
      await account.getByRole('button', { name: 'Confirm' }).click();
      await page.getByRole('heading', { level: 1 }).getByText('CONFIRMED', { exact: true }).waitFor();
      const user = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'ana' });
      assert.equal(user.UserStatus, 'CONFIRMED');
      // MFA from the console: a factor the pool allows turned on and preferred.
      await api(server.url, 'SetUserPoolMfaConfig', {
        UserPoolId: poolId,
        MfaConfiguration: 'OPTIONAL',
        SmsMfaConfiguration: { SmsConfiguration: { SnsCallerArn: 'arn:aws:iam::000000000000:role/sms', ExternalId: 'x' } },
      });
      await api(server.url, 'AdminUpdateUserAttributes', {
        UserPoolId: poolId,
        Username: 'ana',
        UserAttributes: [{ Name: 'phone_number', Value: '+15555550100' }, { Name: 'phone_number_verified', Value: 'true' }],
      });
      const mfa = page.getByRole('region', { name: 'MFA', exact: true });
      await mfa.locator('input[name=SMS_MFA]').check();
      await mfa.locator('select[name=preferred]').selectOption('SMS_MFA');
      await mfa.getByRole('button', { name: 'Save MFA' }).click();
      // The page shows the setting once saved (it renders the user again).
      await page.getByRole('region', { name: 'Account' }).getByText('SMS_MFA').first().waitFor().catch(async (e) => {
        throw new Error(`not saved: ${await mfa.locator('.form-error').innerText().catch(() => '?')}`, { cause: e });
      });
      const withMfa = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'ana' });
      assert.deepEqual([withMfa.UserMFASettingList, withMfa.PreferredMfaSetting], [['SMS_MFA'], 'SMS_MFA']);
      await screenshot(page, join(SCREENSHOTS, 'console-user.png'));

      assert.equal(await page.evaluate(() => window.__xss), undefined);
      // The functions page lists the declared function; a pool is deleted from the list.
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Functions' }).click();
      const declared = page.getByRole('region', { name: 'Declared in cognate.toml' });
      assert.match(await declared.getByRole('row', { name: /pre-sign-up/ }).innerText(), /node/);
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Pools' }).click();
      const { UserPool: scratch } = await api(server.url, 'CreateUserPool', { PoolName: 'scratch' });
      await page.reload();
      const scratchRow = page.getByRole('row', { name: /scratch/ });
      await scratchRow.getByRole('button', { name: 'Delete' }).click();
      await scratchRow.getByRole('button', { name: 'Really delete?' }).click();
      await scratchRow.waitFor({ state: 'detached' });
      await assert.rejects(api(server.url, 'DescribeUserPool', { UserPoolId: scratch.Id }), (e) => e.code === 'ResourceNotFoundException');
      assert.ok(await page.getByRole('row', { name: /shop/ }).isVisible());

      assertNoErrors(handle);
    } finally {
      await handle.close();
    }
  });
});
