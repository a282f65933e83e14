// cognate's web console: pools, users, trigger functions, the invocation timeline and the outbox.
// Plain JavaScript, no build step. Pools and users are read and changed through the JSON API's
// operations (X-Amz-Target and an AWS JSON body, like any SDK, posted to the console's api/call,
// which runs them as POST / does); the invocation log, the outbox and function lookups come from
// the rest of /_cognate/console/api/. In secure mode the console needs a sign-in: an answer 401
// (no session, or it expired) leads to the sign-in page. Every value from the server is put on the page as text
// (textContent, attribute values), never parsed as HTML.
'use strict';

(() => {
  const main = document.getElementById('main');
  const statusBox = document.getElementById('status');
  const API = '/_cognate/console/api/';
  const SIGNIN = '/_cognate/console/signin';
  const POLL_MS = 1000;
  const TIMELINE_MAX = 300;

  /** The LambdaConfig keys that name one function (the custom senders take an object). */
  const TRIGGER_KEYS = [
    'PreSignUp', 'CustomMessage', 'PostConfirmation', 'PreAuthentication', 'PostAuthentication',
    'DefineAuthChallenge', 'CreateAuthChallenge', 'VerifyAuthChallengeResponse', 'PreTokenGeneration',
    'UserMigration', 'InboundFederation',
  ];
  const SENDER_KEYS = ['CustomEmailSender', 'CustomSMSSender'];
  /** UpdateUserPool resets what it is not given, so an update carries these over. */
  const UPDATABLE = [
    'Policies', 'DeletionProtection', 'LambdaConfig', 'AutoVerifiedAttributes', 'SmsVerificationMessage',
    'EmailVerificationMessage', 'EmailVerificationSubject', 'VerificationMessageTemplate',
    'SmsAuthenticationMessage', 'UserAttributeUpdateSettings', 'MfaConfiguration', 'DeviceConfiguration',
    'EmailConfiguration', 'SmsConfiguration', 'UserPoolTags', 'AdminCreateUserConfig', 'UserPoolAddOns',
    'AccountRecoverySetting', 'PoolName', 'UserPoolTier',
  ];
  const SEARCHABLE = [
    'username', 'email', 'phone_number', 'name', 'given_name', 'family_name', 'preferred_username',
    'cognito:user_status', 'status', 'sub',
  ];
  const AUTH_FLOWS = [
    'ALLOW_USER_SRP_AUTH', 'ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH', 'ALLOW_ADMIN_USER_PASSWORD_AUTH',
    'ALLOW_CUSTOM_AUTH', 'ALLOW_USER_AUTH',
  ];

  let info = { region: 'us-east-1', accountId: '000000000000', triggerSources: [] };
  /** Stops the current view's timers; replaced at each navigation. */
  let stopView = () => {};
  let renderSeq = 0;

  // ---- DOM ---------------------------------------------------------------------------------

  /** Builds an element. Props: class, text, on<event>, attributes; children: nodes or text. */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = String(v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked' || k === 'selected' || k === 'open') el[k] = Boolean(v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    el.append(...nodes(children));
    return el;
  }

  /** Children as nodes: arrays flattened, strings as text, null / undefined / false left out. */
  function nodes(children) {
    return children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false)
      .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
  }

  /** Appends children (see `nodes`). */
  function add(el, ...children) {
    el.append(...nodes(children));
  }

  /** Replaces an element's children (see `nodes`). */
  function put(el, ...children) {
    el.replaceChildren(...nodes(children));
  }

  /** A link inside the console; `parts` are encoded, so no value can leave the hash. */
  function link(text, parts, query) {
    return h('a', { href: route(parts, query) }, text);
  }

  function route(parts, query) {
    let href = '#/' + parts.map(encodeURIComponent).join('/');
    const q = new URLSearchParams(Object.entries(query || {}).filter(([, v]) => v));
    if ([...q].length) href += '?' + q.toString();
    return href;
  }

  function pre(value, label) {
    const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
    return h('pre', { class: 'doc', tabindex: '0', 'aria-label': label }, text);
  }

  function dl(pairs) {
    return h('dl', { class: 'facts' }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [
      h('dt', null, k),
      h('dd', null, v instanceof Node ? v : Array.isArray(v) ? v.join(', ') || '—' : String(v)),
    ]));
  }

  function table(headers, rows, caption) {
    return h('table', null,
      caption ? h('caption', null, caption) : null,
      h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: headers.length, class: 'empty' }, 'None.'))));
  }

  function section(title, ...children) {
    const id = 'sec-' + title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), children);
  }

  function field(label, input, hint) {
    return h('label', { class: 'field' }, h('span', null, label), input, hint ? h('small', null, hint) : null);
  }

  function badge(text, kind) {
    return h('span', { class: `badge ${kind || ''}` }, text);
  }

  /** A button that asks "Really?" before it acts (no modal dialogs). */
  function dangerButton(label, action) {
    const b = h('button', { type: 'button', class: 'danger' }, label);
    let armed = false;
    b.addEventListener('click', async () => {
      if (!armed) {
        armed = true;
        b.textContent = `Really ${label.toLowerCase()}?`;
        setTimeout(() => {
          armed = false;
          b.textContent = label;
        }, 4000);
        return;
      }
      b.disabled = true;
      try {
        await action();
      } finally {
        b.disabled = false;
      }
    });
    return b;
  }

  /** A form whose submit runs `action(values)` and reports errors beside it. */
  function form(props, fields, submitLabel, action) {
    const out = h('p', { class: 'form-error', role: 'alert' });
    const submit = h('button', { type: 'submit' }, submitLabel);
    const f = h('form', { class: 'inline-form', novalidate: true, ...props }, fields, submit, out);
    f.addEventListener('submit', async (event) => {
      event.preventDefault();
      out.textContent = '';
      submit.disabled = true;
      try {
        await action(new FormData(f), f);
      } catch (e) {
        out.textContent = e.message;
      } finally {
        submit.disabled = false;
      }
    });
    return f;
  }

  function say(message) {
    say.at = Date.now();
    statusBox.textContent = message;
    clearTimeout(say.timer);
    say.timer = setTimeout(() => {
      statusBox.textContent = '';
    }, 5000);
  }

  function when(seconds) {
    if (typeof seconds !== 'number') return '';
    const d = new Date(seconds * 1000);
    const p = (n, w = 2) => String(n).padStart(w, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }

  function clock(seconds) {
    const d = new Date(seconds * 1000);
    const p = (n, w = 2) => String(n).padStart(w, '0');
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }

  // ---- calls -------------------------------------------------------------------------------

  class CallError extends Error {
    constructor(code, message) {
      super(`${code}: ${message}`);
      this.code = code;
    }
  }

  async function parse(res) {
    const text = await res.text();
    try {
      return text ? JSON.parse(text) : {};
    } catch {
      return { message: text.slice(0, 300) };
    }
  }

  /** Without a session (secure mode, signed out or expired): to the sign-in page. */
  function signInAgain(res) {
    if (res.status === 401) location.assign(SIGNIN);
  }

  /** A cognito-idp operation through the JSON API's code (api/call). */
  async function idp(op, body = {}) {
    const res = await fetch(API + 'call', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.1',
        'X-Amz-Target': `AWSCognitoIdentityProviderService.${op}`,
      },
      body: JSON.stringify(body),
    });
    signInAgain(res);
    const data = await parse(res);
    if (!res.ok) throw new CallError(String(data.__type || res.status).split('#').pop(), data.message || res.statusText);
    return data;
  }

  /** The console's own API. */
  async function capi(path, body) {
    const res = await fetch(API + path, body === undefined ? {} : {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    signInAgain(res);
    const data = await parse(res);
    if (!res.ok) throw new CallError(data.__type || res.status, data.message || res.statusText);
    return data;
  }

  /** Every page of a listing. */
  async function all(op, body, key, tokenIn = 'NextToken', tokenOut = tokenIn) {
    const items = [];
    let token;
    for (let i = 0; i < 50; i++) {
      const page = await idp(op, { ...body, ...(token ? { [tokenIn]: token } : {}) });
      items.push(...(page[key] || []));
      token = page[tokenOut];
      if (!token) break;
    }
    return items;
  }

  const pools = () => all('ListUserPools', { MaxResults: 60 }, 'UserPools');

  function arnOf(name) {
    return `arn:aws:lambda:${info.region}:${info.accountId}:function:${name}`;
  }

  /** Runs `tick` now and then every POLL_MS while the page is visible, until the view changes. */
  function poll(tick) {
    let busy = false;
    const seq = renderSeq;
    const run = async () => {
      if (seq !== renderSeq) {
        clearInterval(timer);
        return;
      }
      if (busy || document.visibilityState !== 'visible') return;
      busy = true;
      try {
        await tick();
      } catch (e) {
        say(`Cannot refresh: ${e.message}`);
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(run, POLL_MS);
    run();
    const previous = stopView;
    stopView = () => {
      clearInterval(timer);
      previous();
    };
  }

  // ---- routing -----------------------------------------------------------------------------

  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const [path, query] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
    return { parts, query: new URLSearchParams(query || '') };
  }

  async function render() {
    // A note outlives the navigation it led to, not the next one.
    if (Date.now() - (say.at || 0) > 1500) statusBox.textContent = '';
    stopView();
    stopView = () => {};
    const seq = ++renderSeq;
    const { parts, query } = parseHash();
    const section = parts[0] || 'pools';
    for (const a of document.querySelectorAll('nav a[data-section]')) {
      if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const view = h('div', { class: 'view' });
    let title = 'cognate console';
    try {
      if (section === 'pools' && parts.length === 1) title = await poolsView(view);
      else if (section === 'pools' && parts[2] === 'users' && parts[3] !== undefined) {
        title = await userView(view, parts[1], parts[3]);
      } else if (section === 'pools' && parts[2] === 'users') title = await usersView(view, parts[1], query);
      else if (section === 'pools') title = await poolView(view, parts[1]);
      else if (section === 'triggers') title = await timelineView(view, query);
      else if (section === 'outbox') title = await outboxView(view, query);
      else if (section === 'functions') title = await functionsView(view);
      else {
        add(view, h('h1', null, 'Not found'), h('p', null, link('Back to the pools', ['pools'])));
      }
    } catch (e) {
      put(view, h('h1', null, 'Something went wrong'), h('p', { class: 'form-error', role: 'alert' }, e.message));
    }
    if (seq !== renderSeq) return;
    document.title = `${title} · cognate`;
    main.replaceChildren(view);
  }

  // ---- pools -------------------------------------------------------------------------------

  async function poolsView(view) {
    const list = await pools();
    list.sort((a, b) => (b.CreationDate || 0) - (a.CreationDate || 0));
    const rows = list.map((p) => h('tr', null,
      h('td', null, link(p.Name, ['pools', p.Id])),
      h('td', null, h('code', null, p.Id)),
      h('td', null, String(Object.keys(p.LambdaConfig || {}).filter((k) => k !== 'KMSKeyID').length)),
      h('td', null, when(p.CreationDate)),
      h('td', null, link('Users', ['pools', p.Id, 'users']), ' ', link('Timeline', ['triggers'], { pool: p.Id }),
        ' ', dangerButton('Delete', async () => {
          await idp('DeleteUserPool', { UserPoolId: p.Id });
          say(`Deleted pool ${p.Name}.`);
          render();
        }))));
    const create = form({ 'aria-label': 'Create a pool' }, [
      field('Name', h('input', { name: 'name', required: true, autocomplete: 'off' })),
      field('Users sign in with', h('select', { name: 'username' },
        h('option', { value: '' }, 'a user name'),
        h('option', { value: 'email' }, 'their email address'),
        h('option', { value: 'phone_number' }, 'their phone number'))),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'verify', checked: true }), 'Verify email by code'),
    ], 'Create pool', async (data) => {
      const body = { PoolName: String(data.get('name') || '').trim() };
      if (data.get('username')) body.UsernameAttributes = [data.get('username')];
      if (data.get('verify')) body.AutoVerifiedAttributes = ['email'];
      const { UserPool } = await idp('CreateUserPool', body);
      say(`Created pool ${UserPool.Name}.`);
      location.hash = route(['pools', UserPool.Id]);
    });
    add(view, 
      h('h1', null, 'User pools'),
      table(['Name', 'Id', 'Triggers', 'Created', ''], rows),
      section('Create a pool', create));
    return 'Pools';
  }

  function poolNav(poolId, poolName, current) {
    const items = [
      ['Overview', ['pools', poolId], null],
      ['Users', ['pools', poolId, 'users'], null],
      ['Trigger timeline', ['triggers'], { pool: poolId }],
      ['Outbox', ['outbox'], { pool: poolId }],
    ];
    return h('nav', { class: 'subnav', 'aria-label': `Pool ${poolName}` }, h('ul', null, items.map(([t, p, q]) =>
      h('li', null, h('a', { href: route(p, q), 'aria-current': t === current ? 'page' : null }, t)))));
  }

  async function poolView(view, poolId) {
    const [{ UserPool: pool }, mfa, clients, groups, functions] = await Promise.all([
      idp('DescribeUserPool', { UserPoolId: poolId }),
      idp('GetUserPoolMfaConfig', { UserPoolId: poolId }).catch(() => ({})),
      all('ListUserPoolClients', { UserPoolId: poolId, MaxResults: 60 }, 'UserPoolClients'),
      all('ListGroups', { UserPoolId: poolId, Limit: 60 }, 'Groups'),
      capi('functions').catch(() => ({ declared: [], deployed: [] })),
    ]);
    const described = await Promise.all(clients.map((c) =>
      idp('DescribeUserPoolClient', { UserPoolId: poolId, ClientId: c.ClientId }).then((r) => r.UserPoolClient)));
    const domains = [];
    for (const d of [pool.Domain, pool.CustomDomain].filter(Boolean)) {
      const { DomainDescription } = await idp('DescribeUserPoolDomain', { Domain: d }).catch(() => ({}));
      domains.push(DomainDescription || { Domain: d });
    }
    const policy = pool.Policies?.PasswordPolicy || {};
    add(view, 
      h('h1', null, pool.Name, ' ', h('code', { class: 'sub' }, pool.Id)),
      poolNav(poolId, pool.Name, 'Overview'),
      section('Settings', dl([
        ['ARN', pool.Arn],
        ['Users (estimate)', pool.EstimatedNumberOfUsers],
        ['Sign-in with', pool.UsernameAttributes?.length ? pool.UsernameAttributes : 'user name'],
        ['Aliases', pool.AliasAttributes],
        ['Auto-verified', pool.AutoVerifiedAttributes],
        ['MFA', pool.MfaConfiguration],
        ['MFA factors', [mfa.SmsMfaConfiguration && 'SMS', mfa.SoftwareTokenMfaConfiguration?.Enabled && 'authenticator app',
          mfa.EmailMfaConfiguration && 'email', mfa.WebAuthnConfiguration && 'passkeys'].filter(Boolean)],
        ['Password policy', `at least ${policy.MinimumLength ?? 8} characters` +
          ['Uppercase', 'Lowercase', 'Numbers', 'Symbols'].filter((k) => policy[`Require${k}`]).map((k) => `, ${k.toLowerCase()}`).join('')],
        ['Deletion protection', pool.DeletionProtection],
        ['Plan', pool.UserPoolTier],
        ['Created', when(pool.CreationDate)],
        ['Modified', when(pool.LastModifiedDate)],
      ]), h('details', null, h('summary', null, 'The whole pool (DescribeUserPool)'), pre(pool, 'DescribeUserPool'))),
      await triggersSection(pool, functions),
      clientsSection(poolId, described),
      domainsSection(poolId, domains),
      groupsSection(poolId, groups),
    );
    return pool.Name;
  }

  /** LambdaConfig as a table: each trigger, its function, and what that resolves to. */
  async function triggersSection(pool, functions) {
    const config = pool.LambdaConfig || {};
    const entries = Object.entries(config).filter(([k]) => k !== 'KMSKeyID' && k !== 'PreTokenGenerationConfig');
    const valueOf = (v) => (typeof v === 'string' ? v : v?.LambdaArn);
    const { results } = entries.length
      ? await capi('resolve', { functions: entries.map(([, v]) => valueOf(v) || '') })
      : { results: [] };
    const rows = entries.map(([key, value], i) => {
      const r = results[i] || {};
      const version = key === 'PreTokenGeneration' ? config.PreTokenGenerationConfig?.LambdaVersion : value?.LambdaVersion;
      const where = r.resolved
        ? [badge('resolves', 'ok'), ' ', h('strong', null, r.name), ` (${r.runtime || '?'}, `,
          { config: 'cognate.toml', 'lambda-api': 'deployed with the Lambda API', 'lambda-endpoint': '[lambda] endpoint' }[r.source] || r.source,
          ')', r.detail?.handlerFile ? h('div', { class: 'sub' }, `${r.detail.handlerFile} → ${r.detail.export}`) : null,
          r.detail?.handler ? h('div', { class: 'sub' }, `handler ${r.detail.handler}`) : null,
          r.detail?.url ? h('div', { class: 'sub' }, r.detail.url) : null]
        : [badge('does not resolve', 'bad'), ' ', r.error || ''];
      return h('tr', null,
        h('th', { scope: 'row' }, key, version ? h('div', { class: 'sub' }, version) : null),
        h('td', null, h('code', null, valueOf(value) || '')),
        h('td', null, where),
        h('td', null, link('Invocations', ['triggers'], { pool: pool.Id }), ' ',
          SENDER_KEYS.includes(key) ? null : dangerButton('Detach', async () => {
            await setTrigger(pool.Id, key, null);
            say(`Detached ${key}.`);
            render();
          })));
    });
    const names = [...functions.declared.map((f) => f.name), ...functions.deployed.map((f) => f.name)];
    const list = h('datalist', { id: 'function-names' }, [...new Set(names)].map((n) => h('option', { value: arnOf(n) })));
    const attach = form({ 'aria-label': 'Attach a trigger' }, [
      field('Trigger', h('select', { name: 'key' }, TRIGGER_KEYS.map((k) => h('option', { value: k }, k)))),
      field('Function', h('input', { name: 'function', list: 'function-names', size: 60, autocomplete: 'off', required: true }),
        'a name or ARN; suggestions: functions in cognate.toml and deployed ones'),
      list,
    ], 'Attach', async (data) => {
      const fn = String(data.get('function') || '').trim();
      if (!fn) throw new Error('Name the function.');
      await setTrigger(pool.Id, String(data.get('key')), fn);
      say(`Attached ${data.get('key')}.`);
      render();
    });
    return section('Triggers', table(['Trigger', 'Function', 'Runs', ''], rows),
      config.KMSKeyID ? h('p', null, 'KMS key for custom senders: ', h('code', null, config.KMSKeyID)) : null,
      attach);
  }

  /** Sets (or, with `fn` null, removes) one LambdaConfig trigger, keeping the rest of the pool. */
  async function setTrigger(poolId, key, fn) {
    const { UserPool: pool } = await idp('DescribeUserPool', { UserPoolId: poolId });
    const body = { UserPoolId: poolId };
    for (const k of UPDATABLE) if (pool[k] !== undefined) body[k] = pool[k];
    const lambda = { ...(pool.LambdaConfig || {}) };
    if (fn) lambda[key] = fn;
    else delete lambda[key];
    if (key === 'PreTokenGeneration') {
      if (fn) lambda.PreTokenGenerationConfig = { LambdaArn: fn, LambdaVersion: lambda.PreTokenGenerationConfig?.LambdaVersion || 'V1_0' };
      else delete lambda.PreTokenGenerationConfig;
    }
    body.LambdaConfig = lambda;
    await idp('UpdateUserPool', body);
  }

  function clientsSection(poolId, clients) {
    const rows = clients.map((c) => h('tr', null,
      h('th', { scope: 'row' }, c.ClientName),
      h('td', null, h('code', null, c.ClientId)),
      h('td', null, c.ClientSecret ? 'yes' : 'no'),
      h('td', null, (c.ExplicitAuthFlows || []).join(' ')),
      h('td', null, c.AllowedOAuthFlowsUserPoolClient ? `${(c.AllowedOAuthFlows || []).join(' ')} · ${(c.AllowedOAuthScopes || []).join(' ')}` : '—',
        (c.CallbackURLs || []).length ? h('div', { class: 'sub' }, c.CallbackURLs.join(' ')) : null),
      h('td', null, dangerButton('Delete', async () => {
        await idp('DeleteUserPoolClient', { UserPoolId: poolId, ClientId: c.ClientId });
        say(`Deleted client ${c.ClientName}.`);
        render();
      }))));
    const create = form({ 'aria-label': 'Create an app client' }, [
      field('Name', h('input', { name: 'name', required: true, autocomplete: 'off' })),
      h('fieldset', null, h('legend', null, 'Auth flows'), AUTH_FLOWS.map((f) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', name: 'flow', value: f, checked: f !== 'ALLOW_CUSTOM_AUTH' && f !== 'ALLOW_USER_AUTH' }), f))),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'secret' }), 'Generate a secret'),
    ], 'Create client', async (data) => {
      const body = { UserPoolId: poolId, ClientName: String(data.get('name') || '').trim(), ExplicitAuthFlows: data.getAll('flow') };
      if (data.get('secret')) body.GenerateSecret = true;
      const { UserPoolClient } = await idp('CreateUserPoolClient', body);
      say(`Created client ${UserPoolClient.ClientName} (${UserPoolClient.ClientId}).`);
      render();
    });
    return section('App clients', table(['Name', 'Client id', 'Secret', 'Auth flows', 'OAuth', ''], rows), create);
  }

  function domainsSection(poolId, domains) {
    const port = location.port ? `:${location.port}` : '';
    const rows = domains.map((d) => {
      const custom = d.CustomDomainConfig || (d.Domain || '').includes('.');
      return h('tr', null,
        h('th', { scope: 'row' }, d.Domain),
        h('td', null, custom ? 'custom' : 'prefix'),
        h('td', null, d.Status || ''),
        h('td', null, d.ManagedLoginVersion ? String(d.ManagedLoginVersion) : ''),
        h('td', null, custom ? '' : h('code', null, `http://${d.Domain}.localhost${port}/login`)),
        h('td', null, dangerButton('Delete', async () => {
          await idp('DeleteUserPoolDomain', { UserPoolId: poolId, Domain: d.Domain });
          say(`Deleted domain ${d.Domain}.`);
          render();
        })));
    });
    const create = domains.some((d) => !(d.Domain || '').includes('.')) ? null : form({ 'aria-label': 'Add a domain' }, [
      field('Prefix', h('input', { name: 'domain', required: true, autocomplete: 'off', pattern: '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?' })),
    ], 'Add domain', async (data) => {
      await idp('CreateUserPoolDomain', { UserPoolId: poolId, Domain: String(data.get('domain') || '').trim() });
      say('Domain added.');
      render();
    });
    return section('Domains', table(['Domain', 'Kind', 'Status', 'Managed login', 'Sign-in page', ''], rows), create);
  }

  function groupsSection(poolId, groups) {
    const rows = groups.map((g) => h('tr', null,
      h('th', { scope: 'row' }, g.GroupName),
      h('td', null, g.Description || ''),
      h('td', null, g.Precedence ?? ''),
      h('td', null, g.RoleArn ? h('code', null, g.RoleArn) : ''),
      h('td', null, dangerButton('Delete', async () => {
        await idp('DeleteGroup', { UserPoolId: poolId, GroupName: g.GroupName });
        say(`Deleted group ${g.GroupName}.`);
        render();
      }))));
    const create = form({ 'aria-label': 'Create a group' }, [
      field('Name', h('input', { name: 'name', required: true, autocomplete: 'off' })),
      field('Description', h('input', { name: 'description', autocomplete: 'off' })),
      field('Precedence', h('input', { name: 'precedence', type: 'number', min: 0 })),
    ], 'Create group', async (data) => {
      const body = { UserPoolId: poolId, GroupName: String(data.get('name') || '').trim() };
      if (data.get('description')) body.Description = data.get('description');
      if (data.get('precedence') !== '') body.Precedence = Number(data.get('precedence'));
      await idp('CreateGroup', body);
      say(`Created group ${body.GroupName}.`);
      render();
    });
    return section('Groups', table(['Group', 'Description', 'Precedence', 'Role', ''], rows), create);
  }

  // ---- users -------------------------------------------------------------------------------

  const attr = (user, name) => (user.Attributes || user.UserAttributes || []).find((a) => a.Name === name)?.Value;

  function statusBadge(status, enabled) {
    const kind = status === 'CONFIRMED' || status === 'EXTERNAL_PROVIDER' ? 'ok' : status === 'UNCONFIRMED' || status === 'FORCE_CHANGE_PASSWORD' || status === 'RESET_REQUIRED' ? 'warn' : '';
    return [badge(status, kind), enabled === false ? [' ', badge('disabled', 'bad')] : null];
  }

  async function usersView(view, poolId, query) {
    const { UserPool: pool } = await idp('DescribeUserPool', { UserPoolId: poolId });
    const by = SEARCHABLE.includes(query.get('by')) ? query.get('by') : 'username';
    const match = query.get('match') === '=' ? '=' : '^=';
    const value = query.get('q') || '';
    const filter = value ? `${by} ${match} "${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : undefined;
    const tbody = h('tbody');
    const more = h('button', { type: 'button', hidden: true }, 'More users');
    let token;
    const load = async () => {
      const page = await idp('ListUsers', { UserPoolId: poolId, Limit: 60, ...(filter ? { Filter: filter } : {}), ...(token ? { PaginationToken: token } : {}) });
      for (const u of page.Users || []) {
        tbody.append(h('tr', null,
          h('th', { scope: 'row' }, link(u.Username, ['pools', poolId, 'users', u.Username])),
          h('td', null, attr(u, 'email') || ''),
          h('td', null, attr(u, 'phone_number') || ''),
          h('td', null, statusBadge(u.UserStatus, u.Enabled)),
          h('td', null, when(u.UserCreateDate))));
      }
      if (!tbody.children.length) tbody.append(h('tr', null, h('td', { colspan: 5, class: 'empty' }, value ? 'No user matches.' : 'No users yet.')));
      token = page.PaginationToken;
      more.hidden = !token;
    };
    more.addEventListener('click', () => load().catch((e) => say(e.message)));
    await load();
    const search = h('form', { class: 'inline-form', role: 'search', 'aria-label': 'Search users' },
      field('Attribute', h('select', { name: 'by' }, SEARCHABLE.map((a) => h('option', { value: a, selected: a === by }, a)))),
      field('Match', h('select', { name: 'match' }, h('option', { value: '^=', selected: match === '^=' }, 'starts with'),
        h('option', { value: '=', selected: match === '=' }, 'equals'))),
      field('Value', h('input', { name: 'q', type: 'search', value, autocomplete: 'off' })),
      h('button', { type: 'submit' }, 'Search'));
    search.addEventListener('submit', (e) => {
      e.preventDefault();
      const d = new FormData(search);
      location.hash = route(['pools', poolId, 'users'], { by: d.get('by'), match: d.get('match'), q: d.get('q') });
    });
    const usesEmail = (pool.UsernameAttributes || []).includes('email');
    const create = form({ 'aria-label': 'Create a user' }, [
      field(usesEmail ? 'Email (user name)' : 'User name', h('input', { name: 'username', required: true, autocomplete: 'off' })),
      usesEmail ? null : field('Email', h('input', { name: 'email', type: 'email', autocomplete: 'off' })),
      field('Phone', h('input', { name: 'phone', autocomplete: 'off', placeholder: '+15555550100' })),
      field('Temporary password', h('input', { name: 'password', type: 'text', autocomplete: 'off' }), 'empty: cognate makes one'),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'verified', checked: true }), 'Email verified'),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'suppress' }), 'Send no invitation'),
    ], 'Create user', async (data) => {
      const username = String(data.get('username') || '').trim();
      const attrs = [];
      const email = usesEmail ? username : String(data.get('email') || '').trim();
      if (email) attrs.push({ Name: 'email', Value: email });
      if (email && data.get('verified')) attrs.push({ Name: 'email_verified', Value: 'true' });
      if (data.get('phone')) attrs.push({ Name: 'phone_number', Value: String(data.get('phone')).trim() });
      const body = { UserPoolId: poolId, Username: username, UserAttributes: attrs };
      if (data.get('password')) body.TemporaryPassword = data.get('password');
      if (data.get('suppress')) body.MessageAction = 'SUPPRESS';
      const { User } = await idp('AdminCreateUser', body);
      say(`Created user ${User.Username}.`);
      location.hash = route(['pools', poolId, 'users', User.Username]);
    });
    add(view, 
      h('h1', null, pool.Name, ' ', h('code', { class: 'sub' }, pool.Id)),
      poolNav(poolId, pool.Name, 'Users'),
      section('Users', search, h('table', null,
        h('thead', null, h('tr', null, ['User name', 'Email', 'Phone', 'Status', 'Created'].map((t) => h('th', { scope: 'col' }, t)))),
        tbody), more),
      section('Create a user', create));
    return `Users of ${pool.Name}`;
  }

  async function userView(view, poolId, username) {
    const { UserPool: pool } = await idp('DescribeUserPool', { UserPoolId: poolId });
    const [user, userGroups, poolGroups, devices] = await Promise.all([
      idp('AdminGetUser', { UserPoolId: poolId, Username: username }),
      all('AdminListGroupsForUser', { UserPoolId: poolId, Username: username, Limit: 60 }, 'Groups'),
      all('ListGroups', { UserPoolId: poolId, Limit: 60 }, 'Groups'),
      pool.DeviceConfiguration
        ? idp('AdminListDevices', { UserPoolId: poolId, Username: username, Limit: 60 }).then((r) => r.Devices || [])
        : null,
    ]);
    const name = user.Username;
    const act = (label, op, extra, done) => {
      const b = h('button', { type: 'button' }, label);
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          await idp(op, { UserPoolId: poolId, Username: name, ...extra });
          say(done);
          render();
        } catch (err) {
          say(err.message);
          b.disabled = false;
        }
      });
      return b;
    };
    const actions = h('div', { class: 'actions' },
      user.UserStatus === 'UNCONFIRMED' ? act('Confirm', 'AdminConfirmSignUp', {}, `Confirmed ${name}.`) : null,
      act('Reset password', 'AdminResetUserPassword', {}, `Password reset for ${name}; a code went out.`),
      user.Enabled ? act('Disable', 'AdminDisableUser', {}, `Disabled ${name}.`) : act('Enable', 'AdminEnableUser', {}, `Enabled ${name}.`),
      dangerButton('Delete', async () => {
        await idp('AdminDeleteUser', { UserPoolId: poolId, Username: name });
        say(`Deleted ${name}.`);
        location.hash = route(['pools', poolId, 'users']);
      }));
    const password = form({ 'aria-label': 'Set the password' }, [
      field('New password', h('input', { name: 'password', type: 'text', autocomplete: 'off', required: true })),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'permanent', checked: true }), 'Permanent'),
    ], 'Set password', async (data) => {
      await idp('AdminSetUserPassword', { UserPoolId: poolId, Username: name, Password: data.get('password'), Permanent: Boolean(data.get('permanent')) });
      say(`Password set for ${name}.`);
      render();
    });
    const attrs = (user.UserAttributes || []).slice().sort((a, b) => a.Name.localeCompare(b.Name));
    const attrRows = attrs.map((a) => h('tr', null,
      h('th', { scope: 'row' }, a.Name),
      h('td', null, h('span', { class: 'value' }, a.Value)),
      h('td', null, a.Name === 'sub' ? null : dangerButton('Delete', async () => {
        await idp('AdminDeleteUserAttributes', { UserPoolId: poolId, Username: name, UserAttributeNames: [a.Name] });
        say(`Deleted ${a.Name}.`);
        render();
      }))));
    const setAttr = form({ 'aria-label': 'Set an attribute' }, [
      field('Attribute', h('input', { name: 'name', required: true, autocomplete: 'off', list: 'attribute-names' })),
      h('datalist', { id: 'attribute-names' }, (pool.SchemaAttributes || []).filter((s) => s.Mutable !== false)
        .map((s) => h('option', { value: s.Name }))),
      field('Value', h('input', { name: 'value', autocomplete: 'off' })),
    ], 'Set attribute', async (data) => {
      await idp('AdminUpdateUserAttributes', { UserPoolId: poolId, Username: name, UserAttributes: [{ Name: String(data.get('name')).trim(), Value: String(data.get('value')) }] });
      say(`Set ${data.get('name')}.`);
      render();
    });
    const member = new Set(userGroups.map((g) => g.GroupName));
    const groupRows = userGroups.map((g) => h('tr', null, h('th', { scope: 'row' }, g.GroupName), h('td', null, g.Description || ''),
      h('td', null, h('button', {
        type: 'button',
        onclick: async () => {
          await idp('AdminRemoveUserFromGroup', { UserPoolId: poolId, Username: name, GroupName: g.GroupName }).catch((e) => say(e.message));
          render();
        },
      }, 'Remove'))));
    const others = poolGroups.filter((g) => !member.has(g.GroupName));
    const addGroup = others.length ? form({ 'aria-label': 'Add to a group' }, [
      field('Group', h('select', { name: 'group' }, others.map((g) => h('option', { value: g.GroupName }, g.GroupName)))),
    ], 'Add to group', async (data) => {
      await idp('AdminAddUserToGroup', { UserPoolId: poolId, Username: name, GroupName: data.get('group') });
      say(`Added ${name} to ${data.get('group')}.`);
      render();
    }) : null;
    // MFA: which factors are on, and which one is preferred (AdminSetUserMFAPreference).
    const factors = [['SMS_MFA', 'SMS', 'SMSMfaSettings'], ['SOFTWARE_TOKEN_MFA', 'Authenticator app', 'SoftwareTokenMfaSettings'],
      ['EMAIL_OTP', 'Email', 'EmailMfaSettings']];
    const on = new Set(user.UserMFASettingList || []);
    const mfaForm = form({ 'aria-label': 'MFA preference' }, [
      factors.map(([id, label]) => field(label, h('input', { type: 'checkbox', name: id, checked: on.has(id) }))),
      field('Preferred', h('select', { name: 'preferred' }, h('option', { value: '' }, 'none'),
        factors.map(([id, label]) => h('option', { value: id, selected: user.PreferredMfaSetting === id }, label)))),
    ], 'Save MFA', async (data) => {
      const settings = {};
      for (const [id, , key] of factors) {
        settings[key] = { Enabled: data.get(id) === 'on', PreferredMfa: data.get('preferred') === id };
      }
      await idp('AdminSetUserMFAPreference', { UserPoolId: poolId, Username: name, ...settings });
      say(`Saved ${name}'s MFA preference.`);
      render();
    });
    const invocations = h('div', { class: 'live' });
    const messages = h('div', { class: 'live' });
    add(view, 
      h('h1', null, name, ' ', statusBadge(user.UserStatus, user.Enabled)),
      poolNav(poolId, pool.Name, null),
      h('p', null, link(`← Users of ${pool.Name}`, ['pools', poolId, 'users'])),
      section('Account', dl([
        ['Status', user.UserStatus],
        ['Enabled', user.Enabled ? 'yes' : 'no'],
        ['Created', when(user.UserCreateDate)],
        ['Modified', when(user.UserLastModifiedDate)],
        ['MFA', (user.UserMFASettingList || []).length ? user.UserMFASettingList : 'none'],
        ['Preferred MFA', user.PreferredMfaSetting],
      ]), actions, password),
      section('MFA', mfaForm),
      section('Attributes', table(['Attribute', 'Value', ''], attrRows), setAttr),
      section('Groups', table(['Group', 'Description', ''], groupRows), addGroup),
      devices ? section('Devices', table(['Device', 'Name', 'Status', 'Last seen'], devices.map((d) => h('tr', null,
        h('th', { scope: 'row' }, h('code', null, d.DeviceKey)),
        h('td', null, (d.DeviceAttributes || []).find((a) => a.Name === 'device_name')?.Value || ''),
        h('td', null, (d.DeviceAttributes || []).find((a) => a.Name === 'device_status')?.Value || ''),
        h('td', null, when(d.DeviceLastAuthenticatedDate)))))) : null,
      section('Messages', messages),
      section('Trigger invocations', invocations, h('p', null, link('In the timeline', ['triggers'], { pool: poolId, user: name }))),
    );
    livePanels(poolId, name, invocations, messages);
    return `${name} · ${pool.Name}`;
  }

  /** A user's newest invocations and messages, kept current. */
  function livePanels(poolId, username, invocations, messages) {
    let seenInv = '';
    let seenMsg = '';
    poll(async () => {
      const q = new URLSearchParams({ poolId, username, limit: '20' });
      const [inv, out] = await Promise.all([capi(`invocations?${q}`), capi(`outbox?${q}`)]);
      const invKey = inv.invocations.map((r) => r.id).join();
      if (invKey !== seenInv) {
        seenInv = invKey;
        invocations.replaceChildren(timelineList(inv.invocations));
      }
      const msgKey = JSON.stringify(out.messages.map((m) => [m.id, m.status, m.attempts]));
      if (msgKey !== seenMsg) {
        seenMsg = msgKey;
        messages.replaceChildren(messagesTable(out.messages, false));
      }
    });
  }

  // ---- the invocation timeline -------------------------------------------------------------

  function outcomeBadge(r) {
    return r.error ? badge(`failed: ${r.error.kind}`, 'bad') : badge('ok', 'ok');
  }

  /** One invocation as a disclosure: the line, then event, response, logs and "Run again". */
  function invocationItem(r, open) {
    const fn = r.functionName ? `${r.functionName}${r.runtime ? ` (${r.runtime})` : ''}` : r.function;
    const user = r.event?.userName;
    const body = h('div', { class: 'inv-body' });
    const details = h('details', { class: `inv ${r.error ? 'failed' : ''}`, 'data-id': String(r.id), open: open.has(r.id) },
      h('summary', null,
        h('time', { datetime: new Date(r.time * 1000).toISOString() }, clock(r.time)), ' ',
        h('span', { class: 'source' }, r.triggerSource || '(no trigger source)'), ' ',
        outcomeBadge(r), ' ',
        h('span', { class: 'fn' }, fn), ' ',
        h('span', { class: 'ms' }, `${r.durationMs} ms`), ' ',
        user ? h('span', { class: 'who' }, user) : null, ' ',
        h('span', { class: 'pool' }, r.poolId),
        r.async ? [' ', badge('async', '')] : null,
        r.attempt > 1 ? [' ', badge(`attempt ${r.attempt}`, 'warn')] : null,
        r.cognitoError ? h('div', { class: 'err-line' }, `${r.cognitoError.__type}: ${r.cognitoError.message}`) : null),
      body);
    const fill = () => {
      if (body.childElementCount) return;
      const rerunOut = h('div', { class: 'rerun-out', 'aria-live': 'polite' });
      const rerun = h('button', { type: 'button' }, 'Run again');
      rerun.addEventListener('click', async () => {
          rerun.disabled = true;
          put(rerunOut, h('p', null, 'Running…'));
          try {
            const res = await capi(`invocations/${r.id}/rerun`, {});
            const n = res.invocation;
            put(rerunOut, h('h3', null, 'Run again'),
              n ? dl([['Outcome', outcomeBadge(n)], ['Duration', `${n.durationMs} ms`], ['New entry', `#${n.id}`]]) : null,
              res.cognitoError ? h('p', { class: 'err-line' }, `${res.cognitoError.__type}: ${res.cognitoError.message}`) : null,
              n?.error ? pre(n.error.message, 'Error') : null,
              n?.response ? pre(n.response, 'Response') : null,
              n?.logs ? pre(n.logs, 'Logs') : null);
          } catch (err) {
            put(rerunOut, h('p', { class: 'form-error', role: 'alert' }, err.message));
          } finally {
            rerun.disabled = false;
          }
      });
      add(body, 
        dl([
          ['Entry', `#${r.id}`],
          ['When', when(r.time)],
          ['Function', r.function],
          ['Runtime', r.runtime || 'none (did not resolve)'],
          ['API call', r.apiRequestId ? `${r.apiOperation || ''} ${r.apiRequestId}`.trim() : 'none (run by hand)'],
          ['Function request id', r.requestId],
          ['Invocation id', r.invocationId],
          ['Pool', link(r.poolId, ['pools', r.poolId])],
          ['User', user ? link(user, ['pools', r.poolId, 'users', user]) : null],
        ]),
        r.error ? [h('h3', null, 'Error'), pre(`${r.error.kind}${r.error.errorType ? ` (${r.error.errorType})` : ''}: ${r.error.message}`, 'Error')] : null,
        h('div', { class: 'docs' },
          h('div', null, h('h3', null, 'Event'), pre(r.event, 'Event')),
          h('div', null, h('h3', null, 'Response'), r.response === null || r.response === undefined ? h('p', null, 'none') : pre(r.response, 'Response'))),
        h('h3', null, 'Logs'), r.logs ? pre(r.logs, 'Logs') : h('p', null, 'none'),
        h('p', null, rerun, ' ', h('small', null, 'runs the function again with this event, as cognate invoke does')),
        rerunOut);
    };
    details.addEventListener('toggle', () => details.open && fill());
    if (details.open) fill();
    return details;
  }

  /**
   * Keeps `ol` as invocations grouped by the API call that caused them (one SignUp with its
   * PreSignUp and CustomMessage), the group with the newest invocation first. `add` takes records
   * newest first, as the API lists them, each newer than those added before.
   */
  function groupedTimeline(ol) {
    const groups = new Map();
    const add = (records) => {
      for (const r of [...records].reverse()) {
        const key = r.apiRequestId ? `r:${r.apiRequestId}` : `e:${r.id}`;
        let g = groups.get(key);
        if (!g) {
          const list = h('ol', { class: 'group-items' });
          const count = h('span', { class: 'count' });
          const op = r.apiOperation || 'API call';
          const head = r.apiRequestId
            ? h('div', { class: 'group-head' }, h('span', { class: 'op' }, op), count,
              h('code', { class: 'req', title: 'x-amzn-RequestId of its answer' }, r.apiRequestId))
            : null;
          const li = h('li', { class: 'group', 'data-request': r.apiRequestId || null, 'aria-label': r.apiRequestId ? `${op} ${r.apiRequestId}` : null }, head, list);
          li.dataset.key = key;
          g = { li, list, count, n: 0 };
          groups.set(key, g);
        }
        g.list.prepend(h('li', null, invocationItem(r, new Set())));
        g.n += 1;
        g.count.textContent = g.n > 1 ? `${g.n} invocations` : '';
        if (ol.firstElementChild !== g.li) ol.prepend(g.li);
      }
      while (ol.children.length > TIMELINE_MAX) {
        groups.delete(ol.lastElementChild.dataset.key);
        ol.lastElementChild.remove();
      }
    };
    return { add, shown: () => ol.querySelectorAll('details.inv').length };
  }

  function timelineList(records) {
    if (!records.length) return h('p', { class: 'empty' }, 'No invocations yet.');
    const ol = h('ol', { class: 'timeline' });
    groupedTimeline(ol).add(records);
    return ol;
  }

  async function timelineView(view, query) {
    const list = await pools();
    const f = {
      pool: query.get('pool') || '',
      user: query.get('user') || '',
      source: query.get('source') || '',
      outcome: ['ok', 'failed'].includes(query.get('outcome')) ? query.get('outcome') : '',
    };
    const filters = h('form', { class: 'inline-form', 'aria-label': 'Filter invocations' },
      field('Pool', h('select', { name: 'pool' }, h('option', { value: '' }, 'all pools'),
        list.map((p) => h('option', { value: p.Id, selected: p.Id === f.pool }, `${p.Name} (${p.Id})`)))),
      field('User', h('input', { name: 'user', type: 'search', value: f.user, autocomplete: 'off' })),
      field('Trigger source', h('select', { name: 'source' }, h('option', { value: '' }, 'all sources'),
        info.triggerSources.map((s) => h('option', { value: s, selected: s === f.source }, s)))),
      field('Outcome', h('select', { name: 'outcome' }, h('option', { value: '' }, 'all'),
        h('option', { value: 'ok', selected: f.outcome === 'ok' }, 'ok'),
        h('option', { value: 'failed', selected: f.outcome === 'failed' }, 'failed'))),
      h('button', { type: 'submit' }, 'Filter'));
    filters.addEventListener('submit', (e) => {
      e.preventDefault();
      const d = new FormData(filters);
      location.hash = route(['triggers'], { pool: d.get('pool'), user: d.get('user'), source: d.get('source'), outcome: d.get('outcome') });
    });
    for (const el of filters.querySelectorAll('select')) el.addEventListener('change', () => filters.requestSubmit());
    const ol = h('ol', { class: 'timeline', 'aria-live': 'polite', 'aria-relevant': 'additions' });
    let timeline = groupedTimeline(ol);
    const empty = h('p', { class: 'empty' }, 'No invocations yet. They appear here as the pools run their triggers.');
    const counter = h('p', { class: 'sub' });
    let last = 0;
    const base = { poolId: f.pool, username: f.user, triggerSource: f.source, outcome: f.outcome };
    poll(async () => {
      const q = new URLSearchParams(Object.entries({ ...base, limit: last ? '1000' : '200', ...(last ? { after: String(last) } : {}) }).filter(([, v]) => v));
      const { invocations } = await capi(`invocations?${q}`);
      if (!invocations.length) return;
      if (last && invocations[invocations.length - 1].id <= last) {
        // A new database (an ephemeral server restarted) numbers from 1 again.
        ol.replaceChildren();
        timeline = groupedTimeline(ol);
      }
      last = Math.max(last, invocations[0].id);
      timeline.add(invocations);
      empty.hidden = true;
      const kept = info.invocationLogDays ? ` for ${info.invocationLogDays} days` : '';
      counter.textContent = `${timeline.shown()} shown, newest first, grouped by the API call that caused them; the server keeps the last ${info.invocationLogCapacity || 1000}${kept}.`;
    });
    add(view, h('h1', null, 'Trigger timeline'), filters, counter, empty, ol);
    return 'Trigger timeline';
  }

  // ---- outbox ------------------------------------------------------------------------------

  function messagesTable(messages, withPool) {
    if (!messages.length) return h('p', { class: 'empty' }, 'No messages.');
    return h('table', { class: 'outbox' },
      h('thead', null, h('tr', null, ['When', withPool ? 'Pool' : null, 'User', 'Channel', 'To', 'Code', 'Status', 'Message']
        .filter(Boolean).map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, messages.map((m) => h('tr', { 'data-id': m.id },
        h('td', null, when(m.createdAt)),
        withPool ? h('td', null, link(m.poolId, ['pools', m.poolId])) : null,
        h('td', null, m.username ? link(m.username, ['pools', m.poolId, 'users', m.username]) : ''),
        h('td', null, m.channel, m.source ? h('div', { class: 'sub' }, m.source) : null),
        h('td', null, m.destination),
        h('td', null, m.code ? h('code', { class: 'code' }, m.code) : ''),
        h('td', null, badge(m.status || '', m.status === 'FAILED' ? 'bad' : m.status === 'PENDING' ? 'warn' : ''),
          m.attempts > 1 ? h('div', { class: 'sub' }, `${m.attempts} attempts`) : null,
          m.lastError ? h('div', { class: 'sub' }, m.lastError) : null),
        h('td', null, h('details', null, h('summary', null, m.subject || 'Body'), pre(m.body || '', 'Message body')))))));
  }

  async function outboxView(view, query) {
    const list = await pools();
    const f = { pool: query.get('pool') || '', user: query.get('user') || '' };
    const filters = h('form', { class: 'inline-form', 'aria-label': 'Filter messages' },
      field('Pool', h('select', { name: 'pool' }, h('option', { value: '' }, 'all pools'),
        list.map((p) => h('option', { value: p.Id, selected: p.Id === f.pool }, `${p.Name} (${p.Id})`)))),
      field('User', h('input', { name: 'user', type: 'search', value: f.user, autocomplete: 'off' })),
      h('button', { type: 'submit' }, 'Filter'));
    filters.addEventListener('submit', (e) => {
      e.preventDefault();
      const d = new FormData(filters);
      location.hash = route(['outbox'], { pool: d.get('pool'), user: d.get('user') });
    });
    filters.querySelector('select').addEventListener('change', () => filters.requestSubmit());
    const holder = h('div', { class: 'live', 'aria-live': 'polite' });
    let seen = null;
    poll(async () => {
      const q = new URLSearchParams(Object.entries({ poolId: f.pool, username: f.user, limit: '200' }).filter(([, v]) => v));
      const { messages } = await capi(`outbox?${q}`);
      const key = JSON.stringify(messages.map((m) => [m.id, m.status, m.attempts]));
      if (key === seen) return;
      seen = key;
      const open = new Set([...holder.querySelectorAll('tr[data-id] details[open]')].map((d) => d.closest('tr').dataset.id));
      const t = messagesTable(messages, true);
      for (const tr of t.querySelectorAll('tr[data-id]')) if (open.has(tr.dataset.id)) tr.querySelector('details').open = true;
      holder.replaceChildren(t);
    });
    add(view, h('h1', null, 'Outbox'),
      h('p', null, 'Every email and text message the pools sent, newest first, with its code (dev mode).'),
      filters, holder);
    return 'Outbox';
  }

  // ---- functions ---------------------------------------------------------------------------

  async function functionsView(view) {
    const { declared, deployed } = await capi('functions');
    const declaredRows = declared.map((f) => h('tr', null,
      h('th', { scope: 'row' }, f.name),
      h('td', null, f.runtime),
      h('td', null, f.detail.handlerFile ? `${f.detail.handlerFile} → ${f.detail.export}` : f.detail.url || f.detail.endpoint || ''),
      h('td', null, `${f.timeoutMs} ms`),
      h('td', null, (f.environment || []).join(', ')),
      h('td', null, h('code', null, arnOf(f.name)))));
    const deployedRows = deployed.map((f) => h('tr', null,
      h('th', { scope: 'row' }, f.name, f.shadowed ? h('div', { class: 'sub' }, 'cognate.toml declares this name, which wins') : null),
      h('td', null, f.runtime || ''),
      h('td', null, f.configuration?.Handler || ''),
      h('td', null, f.configuration?.Timeout ? `${f.configuration.Timeout} s` : ''),
      h('td', null, h('details', null, h('summary', null, 'Configuration'), pre(f.configuration, 'Configuration')))));
    add(view, h('h1', null, 'Functions'),
      section('Declared in cognate.toml', table(['Name', 'Runtime', 'Code', 'Timeout', 'Environment', 'ARN'], declaredRows)),
      section('Deployed with the Lambda API', table(['Name', 'Runtime', 'Handler', 'Timeout', ''], deployedRows)));
    return 'Functions';
  }

  // ---- start -------------------------------------------------------------------------------

  async function start() {
    try {
      info = await capi('info');
      const who = info.signedInAs ? ` · signed in as ${info.signedInAs}` : '';
      document.getElementById('where').textContent = `${location.host} · ${info.region} · ${info.mode} mode · v${info.version}${who}`;
      if (info.mode === 'secure') {
        const out = document.getElementById('signout');
        out.hidden = false;
        out.addEventListener('click', async () => {
          out.disabled = true;
          stopView();
          try {
            await fetch('/_cognate/console/signout', { method: 'POST' });
          } finally {
            location.assign(SIGNIN);
          }
        });
      }
    } catch (e) {
      say(`Cannot reach the console's API: ${e.message}`);
    }
    if (!location.hash) history.replaceState(null, '', '#/pools');
    window.addEventListener('hashchange', render);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') say('');
    });
    render();
  }

  start();
})();
