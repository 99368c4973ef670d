"""Settings: defaults → TOML file → ``DIALER_*`` environment, validated once at start.

The result is a frozen :class:`Settings` object; the rest of the code reads plain values
from it (``settings.database.url``) and never the raw file. Any problem raises
:class:`ConfigError`, whose message names where the bad value came from (the file or the
environment variable), the key path (``database.url``) and what is expected.

Environment variables override the file: ``DIALER_<SECTION>__<KEY>``, upper or lower case,
with ``__`` between levels, e.g. ``DIALER_DATABASE__URL``, ``DIALER_LOGGING__LEVEL``,
``DIALER_ENGINE__LEASE_S``; ``DIALER_*`` names without ``__`` are not settings and are left
alone (``DIALER_CONFIG``, ``DIALER_TEST_PG_URL``). A list of tables is addressed by index:
``DIALER_ASTERISK__SERVERS__0__SECRET``. A value starting with ``[`` or ``{`` is read as
JSON. ``DIALER_CONFIG`` names the file when no path is given.

Secrets (AMI secrets, MQTT and database passwords) are ``SecretStr`` or hidden from
``repr`` and are never logged: use :meth:`DatabaseSettings.safe_url` to show a URL.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from asterisk.settings import AmiServerSettings
from dialer.errors import DialerError

ENV_PREFIX = "DIALER_"
ENV_CONFIG_FILE = "DIALER_CONFIG"
DEFAULT_CONFIG_FILE = Path("config/dialer.toml")


class ConfigError(DialerError):
    """A setting is missing, unknown or invalid; the message says where and what is right."""

    error_id = "invalid_config"

    def __init__(
        self,
        source: str,
        key: str | None,
        problem: str,
        *,
        more: tuple[tuple[str, str | None, str], ...] = (),
    ) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        #: Every problem found as (source, key, problem), this one first.
        self.problems = ((source, key, problem), *more)
        lines = [f"{s}: {k}: {p}" if k else f"{s}: {p}" for s, k, p in self.problems]
        if len(lines) == 1:
            super().__init__(lines[0])
        else:
            listed = "\n".join(f"  {line}" for line in lines)
            super().__init__(f"{len(lines)} problems in the settings:\n{listed}")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatabaseSettings(_Section):
    """Where the campaigns, records and call log live."""

    url: str = Field(default="sqlite:///dialer.db", repr=False)
    """SQLAlchemy URL: ``sqlite:///path.db`` or ``postgresql+psycopg://user:pw@host/db``."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            msg = "a database URL such as sqlite:///dialer.db or postgresql+psycopg://host/db"
            raise ValueError(msg) from exc
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            msg = f"an sqlite or postgresql URL, not {url.get_backend_name()!r}"
            raise ValueError(msg)
        return value

    def safe_url(self) -> str:
        """The URL with any password replaced by ``***`` (safe to log or print)."""
        return make_url(self.url).render_as_string(hide_password=True)


class LoggingSettings(_Section):
    """Log level and format."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool | None = Field(default=None, alias="json")
    """JSON lines (true), pretty console (false), or decide by "is stderr a TTY" (unset)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


def _default_engine_id() -> str:
    return f"dialer@{socket.gethostname()}"[:64]


class EngineSettings(_Section):
    """The campaign engine's identity and rhythm."""

    id: str = Field(default_factory=_default_engine_id, min_length=1, max_length=64)
    """Names this engine in record leases; unique per engine when several share a database."""
    tick_s: float = Field(default=1.0, gt=0, le=60)
    """Seconds between two pacing decisions of a running campaign."""
    lease_s: int = Field(default=300, ge=10, le=86_400)
    """Seconds a claimed record stays reserved for this engine unless renewed."""
    refused_pause_after: int = Field(default=3, ge=1, le=1000)
    """Originates refused in a row (no call placed) after which a campaign pauses itself."""
    overload_lag_s: float = Field(default=0.5, gt=0, le=60)
    """Loop lag (tick lateness, answer-to-connect) past which campaigns dial progressively."""
    claim_ahead: bool = True
    """Claim records ahead on a worker thread (a few seconds' worth per campaign), so that
    a tick never waits for the database on the event loop; false: claim in the tick."""
    drain_s: float = Field(default=30.0, ge=0, le=3600)
    """On a graceful stop: seconds ringing calls may settle and connected calls finish
    before what is left is hung up."""


class PacingSettings(_Section):
    """Where pacing profiles live and which one a new campaign uses."""

    profiles_dir: Path = Path("config/pacing")
    default_profile: str = Field(default="predictive", min_length=1)
    trace_dir: Path | None = None
    """When set, each campaign's pacer inputs and decisions are appended to
    ``<trace_dir>/<engine id>-campaign-<id>.jsonl`` (``dialer pacing replay`` reads them)."""

    def trace_path(self, engine_id: str, campaign_id: int) -> Path | None:
        """The file a campaign's pacer trace goes to (None: not traced)."""
        if self.trace_dir is None:
            return None
        return self.trace_dir / f"{engine_id}-campaign-{campaign_id}.jsonl"


class AsteriskSettings(_Section):
    """The Asterisk servers calls are placed through (none: the built-in simulator)."""

    servers: tuple[AmiServerSettings, ...] = ()
    reseat_after_s: float | None = Field(default=None, ge=0, le=3600)
    """A server whose AMI session stays down this long is taken as gone: its agents who are
    not on a call get a seat on another server (unset: they wait for it to come back)."""

    @field_validator("servers")
    @classmethod
    def _unique_names(cls, value: tuple[AmiServerSettings, ...]) -> tuple[AmiServerSettings, ...]:
        names = [server.name for server in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            msg = f"unique server names, but {', '.join(duplicates)} appear more than once"
            raise ValueError(msg)
        return value


class MqttSettings(_Section):
    """The MQTT broker events are published to (and commands taken from)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65_535)
    topic_prefix: str = Field(default="dialer", min_length=1)
    username: str | None = None
    """The engine's broker identity (its ACL lets it read the cmd topics)."""
    password: SecretStr | None = None
    commands: bool = True
    """Take agent and campaign commands; false: publish events only."""
    max_payload_bytes: int = Field(default=16_384, ge=256, le=1 << 20)
    """A larger command is refused unread."""
    max_depth: int = Field(default=8, ge=2, le=64)
    """A command whose JSON nests deeper is refused unparsed."""
    tls: bool = False
    """Connect over TLS (then usually port 8883)."""
    ca_file: Path | None = None
    """CA certificates to verify the broker with (default: the system's)."""
    cert_file: Path | None = None
    """Client certificate, when the broker asks for one."""
    key_file: Path | None = None
    """The client certificate's private key."""
    tls_insecure: bool = False
    """Accept any broker certificate, unchecked (tests only, never in production)."""


class HttpSettings(_Section):
    """The HTTP API and web pages, served by the engine process (``dialer run``)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65_535)
    session_hours: float = Field(default=12.0, gt=0, le=24 * 90)
    """How long a sign-in lasts without signing in again."""
    export_admin_only: bool = False
    """CSV/XLSX export of lists for administrators only (otherwise for anyone who sees them):
    the default, until an administrator saves the setting in the pages (``app_setting``)."""
    secure_cookies: bool = False
    """Mark the session cookie Secure (serve the pages over HTTPS, e.g. behind a proxy)."""
    recording_url: str | None = None
    """Where a call's recording is heard: a URL template with ``{ref}`` (the call's
    recording reference, URL-encoded), e.g. ``https://pbx.example/rec/{ref}``; unset = no
    recording links."""

    @field_validator("recording_url")
    @classmethod
    def _recording_template(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if "{ref}" not in value:
            msg = "must contain {ref}, where the recording reference goes"
            raise ValueError(msg)
        if not value.startswith(("https://", "http://", "/")):
            msg = "must start with https://, http:// or / (a link the pages can open)"
            raise ValueError(msg)
        return value

    dashboard_long_pause_s: float = Field(default=900.0, gt=0, le=24 * 3600)
    """The dashboard highlights an agent paused longer than this."""
    dashboard_stuck_wrapup_s: float = Field(default=300.0, gt=0, le=24 * 3600)
    """The dashboard highlights an agent in wrap-up longer than this."""

    signin_max_failures: int = Field(default=5, ge=1, le=1000)
    """Wrong passwords for one login within ``signin_window_s`` before it is locked."""
    signin_max_failures_per_address: int = Field(default=20, ge=1, le=100_000)
    """Wrong passwords from one client address (any logins) before the address is locked."""
    signin_window_s: float = Field(default=300.0, gt=0, le=86_400)
    """How far back failures count; a lock lasts until they age out (or an admin lifts it)."""
    trusted_networks: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    """Networks (CIDR) from which the last active administrator is never locked out."""
    upload_max_mb: float = Field(default=50.0, gt=0, le=4096)
    """Largest list or DNC file accepted (larger: 413)."""
    import_max_rows: int = Field(default=1_000_000, ge=1, le=50_000_000)
    """Rows an uploaded list may have (more: refused, nothing imported)."""
    import_max_s: float = Field(default=120.0, gt=0, le=3600)
    """Seconds an upload's import may take (longer: stopped, nothing imported)."""

    @field_validator("trusted_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                msg = f"networks in CIDR form such as 10.0.0.0/8, not {net!r}"
                raise ValueError(msg) from None
        return value


class RetentionSettings(_Section):
    """How long the call log and the audit log are kept (DESIGN §3); older rows are deleted
    by a daily job. The default keeps 5 years, as record-keeping rules ask."""

    call_log_days: int = Field(default=1826, ge=31, le=36_500)
    """Days a call-log row is kept after its dial time (at least 31: the 30-day
    abandonment window is counted from it)."""
    audit_days: int = Field(default=1826, ge=1, le=36_500)
    """Days an audit-log row is kept."""
    run_at: str = Field(default="03:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    """Time of day, UTC ("HH:MM"), the deletion runs."""
    batch: int = Field(default=5000, ge=100, le=100_000)
    """Rows deleted per transaction (short transactions: the engine keeps writing)."""


class ClusterSettings(_Section):
    """Several engines on one PostgreSQL: each running campaign is owned by one engine at a
    time (a lease row with a fencing token, dialer/runtime/cluster.py)."""

    enabled: bool | None = None
    """True: share campaigns with the other engines on this database; False: run every
    campaign found (one engine); unset: True on PostgreSQL, False on SQLite."""
    failover_s: float = Field(default=10.0, ge=1, le=600)
    """Seconds (wall clock, counted by the database) after which the campaigns of an engine
    that stopped renewing its leases go to the others."""
    settle_s: float | None = Field(default=None, ge=0, le=600)
    """At start, seconds to wait for the other engines to announce themselves before taking
    free campaigns (default: half of ``failover_s``)."""
    rebalance: bool = True
    """Move a campaign from the most loaded engine to the least loaded one when the gap
    allows (false: a campaign stays with its engine until that engine stops or stalls)."""
    rebalance_after_s: float = Field(default=60.0, ge=0, le=3600)
    """Rebalancing moves a campaign only once the loads have called for that same move
    this long without a break (agents logging in at the start of a shift, or engines
    started a few seconds apart, move nothing)."""
    handover_s: float = Field(default=120.0, ge=1, le=3600)
    """Rebalancing: seconds a campaign handed to a less loaded engine may take to go quiet
    (no new call is placed; its ringing calls end, its agents finish their calls and
    wrap-up). Not quiet by then, it dials on here."""
    handover_retry_s: float = Field(default=600.0, ge=0, le=86_400)
    """After a handover that was not quiet in time, seconds before this engine proposes
    another (doubled after each further miss in a row, up to eight times)."""


class NotifyRecipient(_Section):
    """One user who gets e-mail about new missed calls."""

    user: str = Field(min_length=1, max_length=64)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    mode: Literal["immediate", "digest"] = "digest"
    """``immediate``: one mail per miss; ``digest``: one mail per digest period."""
    queues: tuple[str, ...] = ()
    """Only misses of these queues (empty: every queue)."""


class SmtpSettings(_Section):
    """Where notification mail goes out."""

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65_535)
    sender: str = Field(default="dialer@localhost", pattern=r"^[^@\s]+@[^@\s]+$")
    username: str | None = None
    password: SecretStr | None = Field(default=None, repr=False)
    starttls: bool = False
    timeout_s: float = Field(default=10.0, gt=0, le=120)


class InboundSettings(_Section):
    """The missed-call worklist (inbound queues, seed 002)."""

    enabled: bool = True
    """Follow the queues of every configured server and keep the worklist."""
    region: str = Field(default="PL", min_length=2, max_length=2)
    """Region of caller numbers that come without a country code."""
    retention_days: float = Field(default=30.0, gt=0, le=3650)
    """A row whose last miss is older than this leaves the list by itself."""
    digest_minutes: float = Field(default=60.0, gt=0, le=7 * 24 * 60)
    """How often digest mail goes out."""
    smtp: SmtpSettings = SmtpSettings()
    recipients: tuple[NotifyRecipient, ...] = ()


class Settings(_Section):
    """Every setting of the engine, validated; built by :func:`load_settings`."""

    database: DatabaseSettings = DatabaseSettings()
    logging: LoggingSettings = LoggingSettings()
    engine: EngineSettings = Field(default_factory=EngineSettings)
    pacing: PacingSettings = PacingSettings()
    asterisk: AsteriskSettings = AsteriskSettings()
    mqtt: MqttSettings = MqttSettings()
    http: HttpSettings = HttpSettings()
    retention: RetentionSettings = RetentionSettings()
    cluster: ClusterSettings = ClusterSettings()
    inbound: InboundSettings = InboundSettings()


# --------------------------------------------------------------------------- loading


def _env_value(raw: str) -> Any:
    stripped = raw.strip()
    if stripped[:1] in {"[", "{"}:
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return raw
    return raw


def _set_path(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    """Set ``value`` at ``parts`` in ``tree``; numeric parts index into lists."""
    node: Any = tree
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        key: int | str = int(part) if isinstance(node, list) else part
        if isinstance(node, list):
            while len(node) <= int(part):
                node.append({})
        if last:
            node[key] = value
            return
        want_list = parts[depth + 1].isdigit()
        child = node[int(part)] if isinstance(node, list) else node.get(part)
        if want_list and not isinstance(child, list):
            child = []
        elif not want_list and not isinstance(child, dict):
            child = {}
        node[key] = child
        node = child


def _apply_env(
    data: dict[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``data`` with ``DIALER_*`` variables laid over it and, per key path, the variable."""
    tree = copy.deepcopy(data)
    origin: dict[str, str] = {}
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper == ENV_CONFIG_FILE:
            continue
        rest = name[len(ENV_PREFIX) :]
        if "__" not in rest:
            # Not a setting (DIALER_TEST_PG_URL, DIALER_AMI_SECRET_PBX1 …), unless it looks
            # like one with a single underscore, which would otherwise be silently ignored.
            section = next(
                (s for s in Settings.model_fields if rest.lower().startswith(s + "_")), None
            )
            if section is not None:
                key = rest[len(section) + 1 :].upper()
                raise ConfigError(
                    f"environment {name}",
                    None,
                    f"expected two underscores between section and key: "
                    f"DIALER_{section.upper()}__{key}",
                )
            continue
        parts = [part.lower() for part in rest.split("__")]
        if not all(parts) or parts[0].isdigit():
            raise ConfigError(
                f"environment {name}",
                None,
                "expected DIALER_<SECTION>__<KEY>, e.g. DIALER_DATABASE__URL",
            )
        _set_path(tree, parts, _env_value(environ[name]))
        origin[".".join(parts)] = name
    return tree, origin


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys a table at ``loc`` (path to the unknown key's parent) accepts."""
    model: type[BaseModel] = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        inner = getattr(annotation, "__args__", ())
        candidates = [annotation, *inner]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return sorted((f.alias or name) for name, f in model.model_fields.items())


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return f"unknown key; expected one of: {', '.join(allowed)}"
    if kind == "missing":
        return "missing; this key is required"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    if "input" in error and kind != "value_error" and not _is_secret_loc(loc):
        message += f" (got {error['input']!r})"
    return message


def _is_secret_loc(loc: tuple[Any, ...]) -> bool:
    return bool(loc) and str(loc[-1]) in {"secret", "password", "url"}


def _source_of(key: str, file_label: str, env_origin: Mapping[str, str]) -> str:
    for path, variable in env_origin.items():
        if key == path or key.startswith(path + "."):
            return f"environment {variable}"
    return file_label


def load_settings(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the file (``path``, else ``$DIALER_CONFIG``, else ``config/dialer.toml`` if it
    exists), overlay the ``DIALER_*`` environment, validate, and return frozen settings."""
    env = os.environ if environ is None else environ
    chosen = path if path is not None else env.get(ENV_CONFIG_FILE)
    file_path: Path | None = Path(chosen) if chosen else None
    if file_path is None and DEFAULT_CONFIG_FILE.is_file():
        file_path = DEFAULT_CONFIG_FILE
    file_label = str(file_path) if file_path is not None else "defaults"

    data: dict[str, Any] = {}
    if file_path is not None:
        try:
            raw = file_path.read_bytes()
        except FileNotFoundError as exc:
            raise ConfigError(str(file_path), None, "file not found") from exc
        except OSError as exc:
            raise ConfigError(str(file_path), None, f"cannot read: {exc.strerror}") from exc
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            problem = (
                f"not a UTF-8 text file: byte {exc.start} (line {line}) is "
                f"0x{raw[exc.start]:02x}; a settings file is TOML saved as UTF-8"
            )
            raise ConfigError(str(file_path), None, problem) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(file_path), None, f"not valid TOML: {exc}") from exc

    data, env_origin = _apply_env(data, env)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        found: list[tuple[str, str | None, str]] = []
        for error in exc.errors(include_url=False):
            key = ".".join(str(part) for part in error["loc"]) or None
            found.append((_source_of(key or "", file_label, env_origin), key, _describe(error)))
        first, *rest = found
        raise ConfigError(*first, more=tuple(rest)) from exc
