// cognate node worker: runs one Lambda-style handler, one invocation at a time.
// argv: <handler file> <export path> <invoked function arn>
// fd 3 carries request lines from the server, fd 4 carries reply lines back, so
// nothing the handler prints can be mistaken for protocol.
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const [handlerFile, exportPath, invokedArn] = process.argv.slice(1);
const OUT_FD = 4;
// A single log write larger than this is cut so one console.log cannot blow the frame limit.
const MAX_LOG_CHUNK = 256 * 1024;

function writeFrame(text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(OUT_FD, buf, off, buf.length - off);
    } catch (e) {
      // The server keeps reading; a transiently full pipe is not an error.
      if (e.code === 'EAGAIN') continue;
      // The server is gone: nothing left to do for anyone.
      process.exit(0);
    }
  }
}

function send(obj) {
  writeFrame(JSON.stringify(obj) + '\n');
}

function emit(text) {
  if (text.length > MAX_LOG_CHUNK) text = text.slice(0, MAX_LOG_CHUNK) + '…[truncated]\n';
  send({ t: 'log', d: text });
}

let currentId = undefined;

// Handler output goes through the log frame, both via console and direct stream writes.
function captureStream(stream) {
  stream.write = function (chunk, encoding, cb) {
    emit(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') process.nextTick(done);
    return true;
  };
}
captureStream(process.stdout);
captureStream(process.stderr);

function logLine(level, args) {
  emit(`${new Date().toISOString()}\t${currentId}\t${level}\t${util.format(...args)}\n`);
}
console.log = (...a) => logLine('INFO', a);
console.info = (...a) => logLine('INFO', a);
console.warn = (...a) => logLine('WARN', a);
console.error = (...a) => logLine('ERROR', a);
console.debug = (...a) => logLine('DEBUG', a);
console.trace = (...a) => {
  const stack = (new Error().stack || '').split('\n').slice(2).join('\n');
  logLine('TRACE', [util.format(...a) + '\n' + stack]);
};

function serializeError(err) {
  if (err instanceof Error || (err && typeof err === 'object' && typeof err.message === 'string')) {
    return {
      errorType: err.name || (err.constructor && err.constructor.name) || 'Error',
      errorMessage: String(err.message),
      trace: typeof err.stack === 'string' ? err.stack.split('\n') : [],
    };
  }
  if (typeof err === 'string') return { errorType: 'string', errorMessage: err, trace: [] };
  let message;
  try {
    message = JSON.stringify(err);
  } catch (_) {
    message = undefined;
  }
  return { errorType: typeof err, errorMessage: message === undefined ? String(err) : message, trace: [] };
}

let handler = null;
let active = null; // the invocation in flight: { id, finished }

function finish(inv, err, result) {
  if (inv.finished) return;
  inv.finished = true;
  if (err !== null && err !== undefined) {
    send({ t: 'error', id: inv.id, error: serializeError(err) });
    return;
  }
  let payload;
  try {
    payload = JSON.stringify(result);
  } catch (e) {
    send({ t: 'invalid', id: inv.id, message: 'Unable to stringify response body: ' + (e && e.message) });
    return;
  }
  // undefined, functions and symbols have no JSON form; Lambda answers null for them.
  if (payload === undefined) payload = 'null';
  // Splice the payload in as raw JSON so large results are not encoded twice.
  writeFrame('{"t":"result","id":' + JSON.stringify(inv.id) + ',"payload":' + payload + '}\n');
}

// Lambda answers a handler that neither returns a promise nor calls back once the
// event loop drains; approximate that by waiting until no resource beyond the
// ones present before the call keeps the loop alive.
function finishWhenIdle(inv, baseline) {
  const check = () => {
    if (inv.finished) return;
    if (process.getActiveResourcesInfo().length <= baseline) finish(inv, null, null);
    else setTimeout(check, 1).unref();
  };
  setImmediate(check);
}

function invoke(req) {
  const inv = { id: req.id, finished: false };
  active = inv;
  currentId = req.id;
  const deadline = req.deadline;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: invokedArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: req.id,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: undefined,
    clientContext: undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    succeed: (result) => finish(inv, null, result),
    fail: (err) => finish(inv, err === undefined || err === null ? 'handled' : err),
    done: (err, result) => finish(inv, err, result),
  };
  const callback = (err, result) => finish(inv, err, result);
  const baseline = process.getActiveResourcesInfo().length;
  try {
    const ret = handler(req.event, context, callback);
    if (ret && typeof ret.then === 'function') {
      ret.then(
        (value) => finish(inv, null, value),
        (err) => finish(inv, err === undefined || err === null ? new Error('Promise rejected without a reason') : err),
      );
    } else if (!inv.finished) {
      finishWhenIdle(inv, baseline);
    }
  } catch (err) {
    finish(inv, err === undefined || err === null ? new Error('Handler threw ' + err) : err);
  }
}

// An exception escaping the handler's async work leaves module state unknown: report
// it for the invocation in flight, then let the server start a fresh worker.
function fatal(kind, err) {
  logLine('ERROR', [kind, err]);
  if (active && !active.finished) {
    active.finished = true;
    send({ t: 'error', id: active.id, error: serializeError(err), fatal: true });
  }
  process.exit(129);
}
process.on('uncaughtException', (err) => fatal('Uncaught Exception', err));
process.on('unhandledRejection', (reason) => fatal('Unhandled Promise Rejection', reason));

function classifyLoadError(err) {
  const e = serializeError(err);
  if (err && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND')) {
    return { errorType: 'Runtime.ImportModuleError', errorMessage: `Error: ${e.errorMessage}`, trace: e.trace };
  }
  if (err instanceof SyntaxError) {
    return { errorType: 'Runtime.UserCodeSyntaxError', errorMessage: `SyntaxError: ${e.errorMessage}`, trace: e.trace };
  }
  return e;
}

async function load() {
  const moduleName = path.basename(handlerFile).replace(/\.[^.]*$/, '');
  const label = `${moduleName}.${exportPath}`;
  let ns;
  try {
    ns = await import(pathToFileURL(handlerFile).href);
  } catch (err) {
    return { error: classifyLoadError(err) };
  }
  const lookup = (root) => exportPath.split('.').reduce((obj, key) => (obj == null ? undefined : obj[key]), root);
  let fn = lookup(ns);
  // CommonJS modules arrive as `default` when Node cannot see their named exports statically.
  if (fn === undefined && ns.default !== undefined) fn = lookup(ns.default);
  if (fn === undefined) {
    return { error: { errorType: 'Runtime.HandlerNotFound', errorMessage: `${label} is undefined or not exported`, trace: [] } };
  }
  if (typeof fn !== 'function') {
    return { error: { errorType: 'Runtime.HandlerNotFound', errorMessage: `${label} is not a function`, trace: [] } };
  }
  return { fn };
}

function listen() {
  const input = new net.Socket({ fd: 3, readable: true, writable: false });
  input.setEncoding('utf8');
  let buf = '';
  input.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.length > 0) invoke(JSON.parse(line));
    }
  });
  // The server closed our request pipe: it is shutting down or dropped this worker.
  input.on('end', () => process.exit(0));
  input.on('error', () => process.exit(0));
}

load().then((loaded) => {
  if (loaded.error) {
    send({ t: 'init_error', error: loaded.error });
    process.exit(0);
  }
  handler = loaded.fn;
  send({ t: 'ready' });
  listen();
});
