"""The dialplan the PBX simulator obeys: contexts and extensions read from ``extensions.conf``
files, matched with Asterisk's pattern rules. Pure: no I/O after loading.

Only what decides the simulator's behaviour is modelled: which ``context``/``exten``
exist (``exten =>``/``same =>`` lines, ``include =>`` between contexts, ``#include`` of
files), the priorities with their labels and applications, and the expansion of the
variables and expressions the shipped dialplan uses (``${VAR}``, ``${LEN()}``,
``${IF(c?a:b)}``, ``$[a = b]``, ``$[a > b]``).

Patterns (``_`` prefix): ``X`` 0-9, ``Z`` 1-9, ``N`` 2-9, ``[...]`` a set with ranges,
``.`` one or more of anything, ``!`` zero or more; ``-`` is ignored; any other character
matches itself (so ``_X.`` never matches ``+48...``, ``_+X.`` does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from asterisk.errors import AsteriskError

#: The dialplan shipped for the engine (``#include`` it into an Asterisk's extensions.conf).
SHIPPED = Path(__file__).resolve().parents[1] / "config" / "asterisk" / "extensions_dialer.conf"


class DialplanError(AsteriskError):
    """A dialplan file the simulator cannot use (names the file and line)."""

    error_id = "dialplan_invalid"

    def __init__(self, path: Path | str, line: int, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        super().__init__(f"{path}:{line}: {problem}" if line else f"{path}: {problem}")


@dataclass(frozen=True, slots=True)
class Step:
    """One priority of an extension: ``App(data)`` as written (not yet expanded)."""

    priority: int
    label: str
    app: str
    data: str


@dataclass(slots=True)
class Extension:
    """One ``exten =>`` pattern or literal of a context with its priorities."""

    name: str
    steps: list[Step] = field(default_factory=list)
    _regex: re.Pattern[str] | None = None

    def matches(self, exten: str) -> bool:
        """Whether ``exten`` matches this extension (a pattern, or literally)."""
        if not self.name.startswith("_"):
            return exten == self.name
        if self._regex is None:
            self._regex = _compile(self.name[1:])
        return self._regex.fullmatch(exten) is not None

    def step(self, priority: int) -> Step | None:
        """The step at ``priority`` (None when there is none)."""
        return next((s for s in self.steps if s.priority == priority), None)

    def label(self, label: str) -> Step | None:
        """The step carrying ``label``."""
        return next((s for s in self.steps if s.label == label), None)


@dataclass(slots=True)
class Context:
    """A ``[context]``: its extensions in file order and its ``include =>`` lines."""

    name: str
    extensions: list[Extension] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)


def _compile(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "X":
            out.append("[0-9]")
        elif c == "Z":
            out.append("[1-9]")
        elif c == "N":
            out.append("[2-9]")
        elif c == ".":
            out.append(".+")
        elif c == "!":
            out.append(".*")
        elif c == "-":
            pass
        elif c == "[":
            end = pattern.find("]", i)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                out.append("[" + "".join(_class_char(ch) for ch in body) + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def _class_char(ch: str) -> str:
    return ch if ch == "-" or ch.isalnum() else re.escape(ch)


def _strip_comment(line: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in line:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        elif ch == ";":
            break
        else:
            out.append(ch)
    return "".join(out).strip()


_PRIORITY = re.compile(r"^(\d+|n|s|hint)(?:\((\w+)\))?$")


class Dialplan:
    """Contexts of one or more ``extensions.conf`` files (later files add to earlier ones)."""

    def __init__(self, contexts: Mapping[str, Context] | None = None) -> None:
        self.contexts: dict[str, Context] = dict(contexts or {})
        self.sources: list[str] = []

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, *paths: Path | str) -> Dialplan:
        """Read the files (and what they ``#include``), in order."""
        plan = cls()
        for path in paths:
            plan._read(Path(path), set())
        return plan

    @classmethod
    def shipped(cls) -> Dialplan:
        """The engine's shipped dialplan, ``config/asterisk/extensions_dialer.conf``."""
        return cls.load(SHIPPED)

    @classmethod
    def parse(cls, text: str, *, source: str = "<text>") -> Dialplan:
        """Read dialplan text (``#include`` is relative to the current directory)."""
        plan = cls()
        plan._read_text(text, Path(source), set())
        return plan

    def _read(self, path: Path, seen: set[Path]) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DialplanError(path, 0, f"cannot read: {exc.strerror or exc}") from exc
        self._read_text(text, path, seen)

    def _read_text(self, text: str, path: Path, seen: set[Path]) -> None:
        real = path.resolve()
        if real in seen:
            raise DialplanError(path, 0, "#include loop")
        seen = {*seen, real}
        self.sources.append(str(path))
        ctx: Context | None = None
        last: Extension | None = None
        for n, raw in enumerate(text.splitlines(), 1):
            line = _strip_comment(raw)
            if not line:
                continue
            if line.startswith("#include"):
                name = line[len("#include") :].strip().strip('"<>')
                self._read(path.parent / name, seen)
                continue
            if line.startswith("["):
                name = line[1 : line.find("]")].strip() if "]" in line else ""
                if not name:
                    raise DialplanError(path, n, f"bad context header {raw.strip()!r}")
                ctx = self.contexts.setdefault(name, Context(name))
                last = None
                continue
            key, sep, value = line.partition("=>")
            if not sep:
                key, sep, value = line.partition("=")
            key, value = key.strip().lower(), value.strip()
            if ctx is None or ctx.name in ("general", "globals"):
                continue
            if key == "include":
                ctx.includes.append(value)
            elif key in ("exten", "same"):
                last = self._add_step(ctx, key, value, last, where=(path, n))
            elif key in {"ignorepat", "switch"}:
                continue
            else:
                raise DialplanError(path, n, f"unknown dialplan line {raw.strip()!r}")

    @staticmethod
    def _add_step(
        ctx: Context, key: str, value: str, last: Extension | None, *, where: tuple[Path, int]
    ) -> Extension:
        path, n = where
        if key == "exten":
            name, _, rest = value.partition(",")
            name = name.strip()
            if not name or not rest:
                raise DialplanError(path, n, f"exten needs 'name,priority,App(...)': {value!r}")
            ext = next((e for e in ctx.extensions if e.name == name), None)
            if ext is None:
                ext = Extension(name)
                ctx.extensions.append(ext)
        else:
            if last is None:
                raise DialplanError(path, n, "'same =>' with no 'exten =>' before it")
            ext, rest = last, value
        prio_s, _, app_s = rest.partition(",")
        m = _PRIORITY.match(prio_s.strip())
        if m is None:
            raise DialplanError(path, n, f"bad priority {prio_s.strip()!r}")
        prio_t, label = m.group(1), m.group(2) or ""
        if prio_t == "hint":
            return ext
        if prio_t == "n":
            if not ext.steps:
                raise DialplanError(path, n, "priority 'n' before priority 1")
            priority = ext.steps[-1].priority + 1
        elif prio_t == "s":
            priority = ext.steps[-1].priority if ext.steps else 1
        else:
            priority = int(prio_t)
        app_s = app_s.strip()
        app, paren, data = app_s.partition("(")
        if paren:
            if not data.endswith(")"):
                raise DialplanError(path, n, f"unbalanced parenthesis in {app_s!r}")
            data = data[:-1]
        ext.steps.append(Step(priority, label, app.strip(), data))
        return ext

    # ------------------------------------------------------------------ queries
    def has_context(self, context: str) -> bool:
        """Whether ``[context]`` is defined."""
        return context in self.contexts

    def find(self, context: str, exten: str) -> Extension | None:
        """The extension ``exten`` matches in ``context`` (or a context it includes).

        Literal extensions win over patterns, as in Asterisk.
        """
        return self._find(context, exten, set())

    def _find(self, context: str, exten: str, seen: set[str]) -> Extension | None:
        ctx = self.contexts.get(context)
        if ctx is None or context in seen:
            return None
        seen.add(context)
        literal = next((e for e in ctx.extensions if e.name == exten), None)
        if literal is not None:
            return literal
        found = next(
            (e for e in ctx.extensions if e.name.startswith("_") and e.matches(exten)), None
        )
        if found is not None:
            return found
        for inc in ctx.includes:
            found = self._find(inc, exten, seen)
            if found is not None:
                return found
        return None

    def exists(self, context: str, exten: str, priority: int = 1) -> bool:
        """Whether Asterisk would find ``context,exten,priority`` (what Originate checks)."""
        ext = self.find(context, exten)
        return ext is not None and ext.step(priority) is not None


# ---------------------------------------------------------------------- expressions
Lookup = Callable[[str], str]


def expand(text: str, lookup: Lookup) -> str:
    """Substitute ``${...}`` and ``$[...]`` innermost first, as Asterisk does."""
    for _ in range(200):
        i = max(text.rfind("${"), text.rfind("$["))
        if i < 0:
            return text
        close = "}" if text[i + 1] == "{" else "]"
        j = text.find(close, i + 2)
        if j < 0:
            return text
        inner = text[i + 2 : j]
        value = _function(inner, lookup) if close == "}" else _expression(inner)
        text = text[:i] + value + text[j + 1 :]
    return text


def _function(inner: str, lookup: Lookup) -> str:
    name, paren, rest = inner.partition("(")
    if paren and rest.endswith(")"):
        arg = rest[:-1]
        if name == "LEN":
            return str(len(arg))
        if name == "IF":
            cond, _, choices = arg.partition("?")
            yes, _, no = choices.partition(":")
            return yes if _truthy(cond) else no
        if name == "GLOBAL":
            return lookup(f"GLOBAL({arg})")
        return lookup(inner)
    return lookup(inner)


def _truthy(value: str) -> bool:
    value = value.strip().strip('"')
    return value not in ("", "0")


_OPS = re.compile(r"^(.*?)\s*(!=|>=|<=|=|>|<)\s*(.*)$")


def _expression(inner: str) -> str:
    m = _OPS.match(inner.strip())
    if m is None:
        return inner.strip().strip('"')
    a, op, b = m.group(1).strip().strip('"'), m.group(2), m.group(3).strip().strip('"')
    left: float | str
    right: float | str
    try:
        left, right = float(a), float(b)
    except ValueError:
        left, right = a, b
    result = {
        "=": left == right,
        "!=": left != right,
        ">": left > right,  # type: ignore[operator]
        "<": left < right,  # type: ignore[operator]
        ">=": left >= right,  # type: ignore[operator]
        "<=": left <= right,  # type: ignore[operator]
    }[op]
    return "1" if result else "0"
