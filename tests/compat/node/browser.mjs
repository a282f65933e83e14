// Helpers for the browser tests: Debian's Chromium (installed by scripts/compat-setup) driven by
// playwright-core, which never downloads a browser of its own. Each page records what went wrong
// in it (console errors, uncaught exceptions, failed requests) so that a test can assert that a
// flow ran cleanly, and can carry a CDP virtual authenticator for WebAuthn (passkey) tests.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

import { chromium } from 'playwright-core';

/** The Chromium executable: $CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Launches headless Chromium. `--no-sandbox` because the tests run as root (Chromium refuses to
 * start its sandbox as root). `options` are merged into Playwright's launch options.
 */
export async function launchBrowser(options = {}) {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: run \`bash scripts/compat-setup\` (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox'],
    ...options,
  });
}

// A request failure that is no fault of the page: a navigation aborted because another one
// replaced it (a redirect, a form post, a second goto), or the browser's own favicon probe.
function ignorableFailure(request, errorText) {
  if (isFavicon(request.url())) return true;
  return errorText === 'net::ERR_ABORTED' && request.isNavigationRequest();
}

function isFavicon(url) {
  try {
    return new URL(url).pathname === '/favicon.ico';
  } catch {
    return false;
  }
}

/**
 * Opens a new browser context and a page in it. Every page of the context (popups too) records
 * console messages of type error, uncaught exceptions (`pageerror`) and failed requests, except
 * aborted navigations and a missing favicon. Returns `{ page, context, errors(), close() }`;
 * `errors()` is a copy of the messages so far. With `virtualAuthenticator: true` the page also
 * gets a virtual authenticator (see `addVirtualAuthenticator`) whose id is `authenticatorId`.
 * `contextOptions` go to `browser.newContext`.
 */
export async function openPage(browser, { virtualAuthenticator = false, contextOptions = {} } = {}) {
  const context = await browser.newContext(contextOptions);
  const collected = [];
  const watched = new WeakSet();
  const watch = (page) => {
    if (watched.has(page)) return;
    watched.add(page);
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const { url, lineNumber } = msg.location();
      // Chromium reports a 404 favicon as "Failed to load resource" at the favicon's URL.
      if (isFavicon(url)) return;
      collected.push(`console.error: ${msg.text()}${url ? ` (${url}:${lineNumber})` : ''}`);
    });
    page.on('pageerror', (error) => {
      collected.push(`pageerror: ${error.stack || error.message}`);
    });
    page.on('requestfailed', (request) => {
      const errorText = request.failure()?.errorText ?? 'unknown error';
      if (ignorableFailure(request, errorText)) return;
      collected.push(`requestfailed: ${request.method()} ${request.url()}: ${errorText}`);
    });
  };
  context.on('page', watch);
  const page = await context.newPage();
  watch(page);
  const handle = {
    page,
    context,
    errors: () => [...collected],
    close: () => context.close(),
  };
  if (virtualAuthenticator) {
    handle.authenticatorId = await addVirtualAuthenticator(page);
  }
  return handle;
}

/** Throws, listing them, if the page handle from `openPage` recorded any errors. */
export function assertNoErrors(pageHandle) {
  const errors = pageHandle.errors();
  if (errors.length > 0) {
    throw new Error(`the page reported ${errors.length} error(s):\n  ${errors.join('\n  ')}`);
  }
}

/** Saves a full-page PNG screenshot at `path` (creating its folder) and returns `path`. */
export async function screenshot(page, path) {
  await mkdir(dirname(path), { recursive: true });
  await page.screenshot({ path, fullPage: true });
  return path;
}

const webAuthnSessions = new WeakMap();

/**
 * Adds a CDP virtual authenticator to the page: CTAP2, internal transport (a platform
 * authenticator, as for passkeys), resident keys, user verification that always succeeds.
 * Returns its authenticator id. The CDP session stays open for as long as the page (closing it
 * would remove the authenticator); `webAuthnSession(page)` returns it for further WebAuthn.*
 * calls such as `getCredentials`.
 */
export async function addVirtualAuthenticator(page) {
  let cdp = webAuthnSessions.get(page);
  if (!cdp) {
    cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    webAuthnSessions.set(page, cdp);
  }
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  return authenticatorId;
}

/** The CDP session `addVirtualAuthenticator` opened for `page`, or undefined. */
export function webAuthnSession(page) {
  return webAuthnSessions.get(page);
}
