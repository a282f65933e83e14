# cognate python worker: runs one Lambda-style handler, one invocation at a time.
# argv: <handler file> <export name> <invoked function arn>
# fd 3 carries request lines from the server, fd 4 carries reply lines back, so
# nothing the handler prints can be mistaken for protocol.
import decimal
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import traceback

HANDLER_FILE, EXPORT, INVOKED_ARN = sys.argv[1:4]
OUT_FD = 4
# A single log write larger than this is cut so one print cannot blow the frame limit.
MAX_LOG_CHUNK = 256 * 1024

_send_lock = threading.Lock()


def _write_frame(data):
    view = memoryview(data)
    with _send_lock:
        while view:
            try:
                n = os.write(OUT_FD, view)
            except BlockingIOError:
                continue
            except OSError:
                # The server is gone: nothing left to do for anyone.
                os._exit(0)
            view = view[n:]


def _send(obj):
    _write_frame((json.dumps(obj, separators=(",", ":")) + "\n").encode("utf-8"))


def _emit(text):
    if len(text) > MAX_LOG_CHUNK:
        text = text[:MAX_LOG_CHUNK] + "…[truncated]\n"
    _send({"t": "log", "d": text})


class _LogStream(io.TextIOBase):
    """Stands in for sys.stdout / sys.stderr so every write becomes a log frame."""

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            s = str(s)
        if s:
            _emit(s)
        return len(s)

    def flush(self):
        pass

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"


# Replaced for the whole process life, not per call: logging handlers and libraries
# capture the stream object once, at import time.
sys.stdout = _LogStream()
sys.stderr = _LogStream()

_current_id = None


class _LambdaLogHandler(logging.Handler):
    def emit(self, record):
        try:
            msg = self.format(record)
        except Exception:
            msg = str(record.msg)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        millis = int(record.msecs)
        _emit(f"[{record.levelname}]\t{stamp}.{millis:03d}Z\t{_current_id}\t{msg}\n")


# Like Lambda, the root logger already has a handler, so logging.basicConfig() in user
# code is a no-op and records at WARNING and above show up unless the level is changed.
_root = logging.getLogger()
_root.addHandler(_LambdaLogHandler())
_root.setLevel(logging.WARNING)


class LambdaContext:
    def __init__(self, request_id, deadline_ms):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = INVOKED_ARN
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, msg):
        _emit(str(msg))


def _json_default(obj):
    # Lambda's Python runtime serialises Decimal (what boto3's DynamoDB returns).
    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _error(exc, error_type=None, message=None):
    trace = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    return {
        "errorMessage": str(exc) if message is None else message,
        "errorType": error_type or type(exc).__name__,
        "stackTrace": trace,
    }


def _load():
    module_name = os.path.splitext(os.path.basename(HANDLER_FILE))[0]
    task_root = os.path.dirname(HANDLER_FILE)
    # Vendored packages live beside the handler (pip install -t .) or in a layer-style subdir.
    for extra in (os.path.join(task_root, "package"), os.path.join(task_root, "python")):
        if os.path.isdir(extra) and extra not in sys.path:
            sys.path.insert(0, extra)
    if task_root in sys.path:
        sys.path.remove(task_root)
    sys.path.insert(0, task_root)
    try:
        spec = importlib.util.spec_from_file_location(module_name, HANDLER_FILE)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {HANDLER_FILE}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        return None, _error(exc, "Runtime.UserCodeSyntaxError",
                            f"Syntax error in module '{module_name}': {exc}")
    except ImportError as exc:
        sys.modules.pop(module_name, None)
        return None, _error(exc, "Runtime.ImportModuleError",
                            f"Unable to import module '{module_name}': {exc}")
    except Exception as exc:
        sys.modules.pop(module_name, None)
        return None, _error(exc)
    fn = getattr(module, EXPORT, None)
    if fn is None:
        return None, {"errorMessage": f"Handler '{EXPORT}' missing on module '{module_name}'",
                      "errorType": "Runtime.HandlerNotFound", "stackTrace": []}
    if not callable(fn):
        return None, {"errorMessage": f"Handler '{EXPORT}' on module '{module_name}' is not callable",
                      "errorType": "Runtime.HandlerNotFound", "stackTrace": []}
    return fn, None


def _invoke(handler, req):
    global _current_id
    request_id = req["id"]
    _current_id = request_id
    context = LambdaContext(request_id, req["deadline"])
    try:
        result = handler(req["event"], context)
    except Exception as exc:
        _send({"t": "error", "id": request_id, "error": _error(exc)})
        return
    try:
        payload = json.dumps(result, separators=(",", ":"), default=_json_default, allow_nan=False)
    except (TypeError, ValueError) as exc:
        _send({"t": "invalid", "id": request_id, "message": f"Unable to marshal response: {exc}"})
        return
    # Splice the payload in as raw JSON so large results are not encoded twice.
    _write_frame(('{"t":"result","id":' + json.dumps(request_id) + ',"payload":' + payload + "}\n").encode("utf-8"))


def main():
    handler, err = _load()
    if err is not None:
        _send({"t": "init_error", "error": err})
        return
    _send({"t": "ready"})
    with open(3, "rb", buffering=1 << 16) as requests:
        for line in requests:
            line = line.strip()
            if line:
                _invoke(handler, json.loads(line))
    # The request pipe closed: the server is shutting down or dropped this worker.


main()
