"""Tenant-authored page templates, compiled and rendered so they cannot escape or starve us.

Jinja2's ImmutableSandboxedEnvironment is the base: it refuses private and
internal attributes (``__class__``, ``__globals__``, ``func_code`` ...),
unsafe callables and changes to lists and dicts, and makes ``str.format``
safe. On top of it:

- autoescaping is always on, and nothing can turn it off: the
  ``{% autoescape %}`` tag, ``|safe``, includes, imports and inheritance are
  refused when the template is saved, and so is ``~`` (string building
  without bounds; print the parts one after the other instead);
- filters are a short list (:data:`FILTERS`), and the ones that build
  strings or lists from numbers (``center``, ``indent``, ``format``,
  ``batch``, ``string``...) are not on it; strings offer only a few methods
  and numbers none (``"x".ljust(10**9)``, ``(1).to_bytes(10**9)``);
- ``*``, ``+``, ``**`` and ``%`` are checked before they run, so no single
  operation builds a huge string, list or number;
- ``range`` yields at most :data:`MAX_RANGE` items;
- every render has a budget (:class:`Budget`): CPU time, checked on each
  call and output chunk, and enforced by a watchdog thread that interrupts
  the rendering thread when a loop spins without calling anything; and
  output size. A template over budget raises :class:`RenderError`; the
  caller serves the built-in page instead.
"""

import ctypes
import threading
import time
from collections.abc import Mapping

from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_SOURCE_BYTES = 64 * 1024
MAX_OUTPUT = 512 * 1024
CPU_BUDGET = 0.05  # seconds of the rendering thread's CPU
WALL_LIMIT = 1.0  # seconds, whatever the CPU: a render never holds a worker longer
MAX_RANGE = 10_000
MAX_POWER_BITS = 4096

FILTERS = (
    "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "int",
    "join", "last", "length", "list", "lower", "replace", "reverse", "round", "sort",
    "striptags", "title", "trim", "truncate", "upper", "urlencode", "wordcount",
)
STRING_METHODS = frozenset({
    "lower", "upper", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith",
    "endswith", "split", "isdigit", "isalpha",
})
REFUSED_NODES = {
    nodes.Include: "includes are not available",
    nodes.Import: "imports are not available",
    nodes.FromImport: "imports are not available",
    nodes.Extends: "template inheritance is not available",
    nodes.ScopedEvalContextModifier: "autoescaping cannot be turned off",
    nodes.EvalContextModifier: "autoescaping cannot be turned off",
    nodes.Concat: "the ~ operator is not available: print the parts one after the other",
}


class TemplateRefused(ValueError):
    """A template refused at save, with the line it was refused at."""

    def __init__(self, message: str, lineno: int | None = None):
        super().__init__(f"line {lineno}: {message}" if lineno else message)
        self.lineno = lineno


class RenderError(Exception):
    """A render stopped: over budget, or failed. The message is safe to show its author."""

    def __init__(self, message: str, over_budget: bool = False, transient: bool = False):
        super().__init__(message)
        # over_budget: it would be again (stop trying); transient: the server, not
        # the template, was slow (a wall-clock stop on a busy machine): try next time.
        self.over_budget, self.transient = over_budget, transient


class _Refused(SecurityError):
    """One of our own limits, whose message is shown to the template's author as it is."""


class _Interrupted(BaseException):
    """Raised asynchronously in a rendering thread by the watchdog (not an Exception,
    so no ``except Exception`` on the way swallows it)."""


# --- the budget --------------------------------------------------------------------


class Budget:
    def __init__(self, cpu: float = CPU_BUDGET, output: int = MAX_OUTPUT):
        self.cpu_deadline = time.thread_time() + cpu
        self.cpu = cpu
        self.output_left = output

    def check(self):
        if time.thread_time() > self.cpu_deadline:
            raise RenderError(f"the template used more than {self.cpu * 1000:.0f} ms of CPU",
                              over_budget=True)

    def spend(self, size: int):
        self.output_left -= size
        if self.output_left < 0:
            raise RenderError(f"the page would be larger than {MAX_OUTPUT // 1024} KB",
                              over_budget=True)


_local = threading.local()


def _budget() -> Budget | None:
    return getattr(_local, "budget", None)


class _Watchdog:
    """One thread per process that interrupts renders past their CPU or wall time.

    Each render registers its thread; the watchdog sleeps until the nearest
    deadline, then compares the thread's own CPU clock with its budget and
    raises :class:`_Interrupted` in it (``PyThreadState_SetAsyncExc``) when it
    is spent. Pure-Python loops are interrupted at their next bytecode.
    """

    def __init__(self):
        self._lock = threading.Condition()
        self._watched: dict[int, tuple[int, float, float, float]] = {}
        self._fired: dict[int, str] = {}  # thread -> "cpu" or "wall": why it was stopped
        self._pid = None

    def _ensure_thread(self):
        import os

        if self._pid != os.getpid():  # a forked worker starts its own
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="tracee-render-watchdog", daemon=True).start()

    def watch(self, cpu: float):
        ident = threading.get_ident()
        clock = time.pthread_getcpuclockid(ident)
        with self._lock:
            self._ensure_thread()
            self._watched[ident] = (clock, time.clock_gettime(clock) + cpu,
                                    time.monotonic() + WALL_LIMIT, time.monotonic() + cpu)
            self._fired.pop(ident, None)
            self._lock.notify()

    def release(self) -> str | None:
        """Stop watching this thread; why the watchdog fired at it ("cpu", "wall"), if it did."""
        ident = threading.get_ident()
        with self._lock:
            self._watched.pop(ident, None)
            fired = self._fired.pop(ident, None)
        if fired:  # an interruption still pending must not land after the render
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)
        return fired

    def _run(self):
        with self._lock:
            while True:
                now = time.monotonic()
                wake = None
                for ident, (clock, cpu_deadline, wall_deadline, check_at) in list(
                        self._watched.items()):
                    if now < check_at:
                        wake = check_at if wake is None else min(wake, check_at)
                        continue
                    try:
                        used_up = time.clock_gettime(clock) >= cpu_deadline
                    except OSError:  # the thread is gone
                        used_up = True
                    if used_up or now >= wall_deadline:
                        del self._watched[ident]
                        self._fired[ident] = "cpu" if used_up else "wall"
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(ident), ctypes.py_object(_Interrupted))
                    else:
                        again = min(now + 0.005, wall_deadline)
                        self._watched[ident] = (clock, cpu_deadline, wall_deadline, again)
                        wake = again if wake is None else min(wake, again)
                self._lock.wait(None if wake is None else max(wake - time.monotonic(), 0.001))


_watchdog = _Watchdog()


# --- the environment ---------------------------------------------------------------


def _weight(value, depth: int = 0) -> int:
    """Roughly how many characters ``value`` makes when printed or joined."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple) and depth < 3:
        return len(value) + sum(_weight(item, depth + 1) for item in value)
    if isinstance(value, Mapping) and depth < 3:
        return len(value) + sum(_weight(v, depth + 1) for v in value.values())
    return 16


def _too_big(what: str):
    return _Refused(f"{what} would be larger than {MAX_OUTPUT // 1024} KB")


def _bounded_range(*args):
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise _Refused(f"range() is limited to {MAX_RANGE} items")
    budget = _budget()
    for n, value in enumerate(values):
        if budget is not None and n % 64 == 0:
            budget.check()
        yield value


def _join(environment_filter):
    def join(eval_ctx, value, d="", attribute=None):
        items = list(value)
        if _weight(items) + len(items) * _weight(d) > MAX_OUTPUT:
            raise _too_big("the joined text")
        return environment_filter(eval_ctx, items, d, attribute)

    join.jinja_pass_arg = environment_filter.jinja_pass_arg
    return join


def _replace(environment_filter):
    def replace(eval_ctx, s, old, new, count=None):
        text = str(s)
        if len(text) + (len(text) + 1) * _weight(new) > MAX_OUTPUT:
            raise _too_big("the replaced text")
        return environment_filter(eval_ctx, s, old, new, count)

    replace.jinja_pass_arg = environment_filter.jinja_pass_arg
    return replace


class PageSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def __init__(self):
        super().__init__(autoescape=True, finalize=self._finalize)
        self.filters = {name: self.filters[name] for name in FILTERS}
        self.filters["join"] = _join(self.filters["join"])
        self.filters["replace"] = _replace(self.filters["replace"])
        self.tests = {name: self.tests[name] for name in (
            "defined", "undefined", "none", "number", "string", "odd", "even", "divisibleby",
            "equalto", "eq", "ne", "lt", "le", "gt", "ge", "in", "sequence", "mapping")}
        self.globals = {"range": _bounded_range, "dict": dict}

    @staticmethod
    def _finalize(value):
        if _weight(value) > MAX_OUTPUT:
            raise _too_big("a printed value")
        return value

    def is_safe_attribute(self, obj, attr, value):
        if isinstance(obj, str):
            return attr in STRING_METHODS
        if isinstance(obj, int | float | bytes | bytearray):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value):
        # No str.format at all: besides its known escapes, a width ("{:>999999999}")
        # builds a huge string in one C call that no budget can interrupt.
        return None

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (as Jinja2 spells it)
        budget = _budget()
        if budget is not None:
            budget.check()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, operator, left, right):
        if operator == "%" and isinstance(left, str):
            raise _Refused("% formatting of strings is not available")
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and \
                right > 0 and max(abs(left).bit_length(), 1) * right > MAX_POWER_BITS:
            raise _Refused("the power would be too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) and \
                        _weight(seq) * max(times, 0) > MAX_OUTPUT:
                    raise _too_big("the repeated value")
        if operator == "+" and isinstance(left, str | list | tuple) and \
                _weight(left) + _weight(right) > MAX_OUTPUT:
            raise _too_big("the sum")
        return super().call_binop(context, operator, left, right)


_environment = PageSandbox()


def _refuse_unsafe_names(tree):
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        name = getattr(node, "attr", None) or getattr(node, "name", None)
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateRefused(f"names starting with _ are not available ({name})",
                                  node.lineno)
    for node_type, message in REFUSED_NODES.items():
        found = next(iter(tree.find_all(node_type)), None)
        if found is not None:
            raise TemplateRefused(message, found.lineno)


def compile_source(source: str):
    """The compiled template, or TemplateRefused naming the line at fault."""
    if len(source.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        raise TemplateRefused(f"the template is larger than {MAX_SOURCE_BYTES // 1024} KB")
    if "\x00" in source:
        raise TemplateRefused("the template contains a NUL byte")
    try:
        tree = _environment.parse(source)
        _refuse_unsafe_names(tree)
        return _environment.from_string(tree)
    except TemplateSyntaxError as exc:
        raise TemplateRefused(exc.message or "syntax error", exc.lineno) from None


def _template_line(template, traceback) -> int | None:
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = template.get_corresponding_lineno(traceback.tb_lineno)
        traceback = traceback.tb_next
    return line


def render(template, context: dict) -> str:
    """Render within the budget; RenderError (a message for the author) if it cannot."""
    budget = Budget()
    _local.budget = budget
    _watchdog.watch(CPU_BUDGET)
    parts = []
    fired = None
    try:
        try:
            for chunk in template.generate(context):
                budget.spend(len(chunk))
                parts.append(chunk)
        finally:
            fired = _watchdog.release()
            _local.budget = None
        if fired:
            raise _Interrupted
    except _Interrupted:
        if fired == "wall":
            raise RenderError("the page took too long to render on a busy server",
                              transient=True) from None
        raise RenderError(f"the template used more than {CPU_BUDGET * 1000:.0f} ms of CPU "
                          "and was stopped", over_budget=True) from None
    except RenderError:
        raise
    except RecursionError:
        raise RenderError("the template recursed too deeply", over_budget=True) from None
    except SecurityError as exc:
        line = _template_line(template, exc.__traceback__)
        # Jinja2's own messages may show an object's repr: only ours are shown as they are.
        message = str(exc) if isinstance(exc, _Refused) else "an unsafe attribute or call"
        raise RenderError(f"line {line}: {message}" if line else message) from None
    except TemplateError as exc:  # e.g. "'x' is undefined"
        line = _template_line(template, exc.__traceback__)
        message = (exc.message or type(exc).__name__)[:200]
        raise RenderError(f"line {line}: {message}" if line else message) from None
    except Exception as exc:  # a template's own error (1/0, int("x")): named, not shown
        line = _template_line(template, exc.__traceback__)
        kind = type(exc).__name__
        raise RenderError(f"line {line}: {kind}" if line else kind) from None
    return "".join(parts)
