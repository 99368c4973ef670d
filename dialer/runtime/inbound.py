"""The runtime side of inbound: queue facts into the worklist, callback outcomes into its
history, e-mail about new misses, and their live events.

:class:`InboundRecorder` is the :data:`asterisk.queues.InboundSink` the AMI adapters call
(on the event loop, in wire order). It stamps each fact with the time it arrived and hands
it to one worker thread, which writes it (the loop never waits for the database), then
publishes ``inbound/...`` events and sends immediate mail. :class:`WorklistJournal` is the
call journal of the engine with one addition: an attempt on a record that dials a worklist
row is written to that row's history when it happens (reached when connected to an agent).
"""

from __future__ import annotations

import datetime as dt
import queue
import smtplib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from email.message import EmailMessage
from typing import Any, Protocol

import sqlalchemy as sa
import structlog

from asterisk.queues import (
    MISSED,
    InboundAbandoned,
    InboundAnswered,
    InboundEvent,
    InboundJoined,
    InboundLeftUnanswered,
    InboundMissed,
)
from campaigns import inbound as wl
from campaigns.enums import Outcome
from dialer.config import InboundSettings, NotifyRecipient, SmtpSettings
from dialer.engine.calls import Call
from dialer.runtime.store import SqlJournal

log = structlog.get_logger(__name__)

Publish = Callable[[str, Mapping[str, Any]], None]


def inbound_topic(kind: str) -> str:
    """Topic of inbound worklist events (``missed``, ``answered``, ``row``)."""
    return f"inbound/{kind}"


# ---- mail ----------------------------------------------------------------------------------


class Mailer(Protocol):
    """Where notification mail goes (SMTP in production)."""

    def send(self, message: EmailMessage) -> None:
        """Deliver one message (raises ``OSError``/``smtplib.SMTPException`` on failure)."""


class SmtpMailer:
    """Sends mail through the configured SMTP server, one connection per message."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        """Connect, (STARTTLS, log in,) send, quit."""
        s = self.settings
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
            if s.starttls:
                smtp.starttls()
            if s.username and s.password is not None:
                smtp.login(s.username, s.password.get_secret_value())
            smtp.send_message(message)


def _line(row: wl.RowView) -> str:
    when = row.last_missed_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"{row.phone}  queue {row.queue}  missed {row.miss_count}x, last {when}"


def miss_mail(
    sender: str, recipient: NotifyRecipient, rows: Sequence[wl.RowView], *, digest: bool
) -> EmailMessage:
    """The mail telling ``recipient`` about ``rows`` (one miss, or a digest)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient.email
    if digest:
        msg["Subject"] = f"Missed calls: {len(rows)} caller(s) to call back"
    else:
        msg["Subject"] = f"Missed call from {rows[0].phone} (queue {rows[0].queue})"
    body = [f"Hello {recipient.user},", "", "Callers waiting for a callback:", ""]
    body += [_line(r) for r in rows]
    body += ["", "The worklist: /worklist"]
    msg.set_content("\n".join(body))
    return msg


class Notifier:
    """Per-user mail about new misses: immediate, or a digest of rows not told about yet.

    Immediate mail goes out on the notifier's own thread (:meth:`notify` returns at once),
    so a slow or unreachable SMTP server never holds up the worklist's writes."""

    def __init__(self, settings: InboundSettings, mailer: Mailer | None = None) -> None:
        self.settings = settings
        self.mailer: Mailer = mailer or SmtpMailer(settings.smtp)
        self.sent = 0
        self.failed = 0
        self._outbox: queue.SimpleQueue[wl.RowView | None] = queue.SimpleQueue()
        self._mailing: threading.Thread | None = None
        self._lock = threading.Lock()

    def notify(self, row: wl.RowView) -> None:
        """Mail the users who want each miss at once, on the mail thread (returns at once)."""
        with self._lock:
            if self._mailing is None:
                self._mailing = threading.Thread(
                    target=self._mail_loop, name="inbound-mail", daemon=True
                )
                self._mailing.start()
        self._outbox.put(row)

    def _mail_loop(self) -> None:
        while (row := self._outbox.get()) is not None:
            try:
                self.immediate(row)
            except Exception:
                log.exception("miss_mail_failed", row_id=row.id)

    def close(self, within_s: float = 10.0) -> None:
        """Send what is queued (waiting at most ``within_s``), then stop the mail thread."""
        with self._lock:
            thread, self._mailing = self._mailing, None
        if thread is not None:
            self._outbox.put(None)
            thread.join(within_s)

    @staticmethod
    def _wants(recipient: NotifyRecipient, row: wl.RowView) -> bool:
        return not recipient.queues or row.queue in recipient.queues

    def _send(
        self, recipient: NotifyRecipient, rows: Sequence[wl.RowView], *, digest: bool
    ) -> bool:
        try:
            self.mailer.send(miss_mail(self.settings.smtp.sender, recipient, rows, digest=digest))
        except (OSError, smtplib.SMTPException) as exc:
            self.failed += 1
            log.warning("miss_mail_failed", user=recipient.user, error=str(exc))
            return False
        self.sent += 1
        return True

    def immediate(self, row: wl.RowView) -> int:
        """Mail the users who want each miss at once; returns how many mails went out."""
        targets = [
            r for r in self.settings.recipients if r.mode == "immediate" and self._wants(r, row)
        ]
        return sum(self._send(r, [row], digest=False) for r in targets)

    def digest(self, db: sa.Engine) -> int:
        """Mail each digest user the open rows missed since the last digest; the rows are
        marked told when every mail that should carry them went out."""
        rows = wl.unnotified(db)
        if not rows:
            return 0
        failed: set[int] = set()
        sent = 0
        for recipient in self.settings.recipients:
            if recipient.mode != "digest":
                continue
            mine = [r for r in rows if self._wants(recipient, r)]
            if not mine:
                continue
            if self._send(recipient, mine, digest=True):
                sent += 1
            else:
                failed |= {r.id for r in mine}
        wl.mark_notified(db, [r.id for r in rows if r.id not in failed])
        return sent


# ---- the sink ------------------------------------------------------------------------------


class InboundRecorder:
    """The adapters' inbound sink: facts are written on one worker thread, in order."""

    def __init__(
        self,
        db: sa.Engine,
        settings: InboundSettings,
        *,
        utcnow: Callable[[], dt.datetime],
        publish: Publish | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.utcnow = utcnow
        self.publish: Publish = publish or (lambda _t, _p: None)
        self.notifier = notifier
        self.recorded = 0
        self.duplicates = 0
        self.rejected = 0
        self.failures = 0
        self._queue: queue.SimpleQueue[tuple[InboundEvent, dt.datetime] | None] = (
            queue.SimpleQueue()
        )
        self._idle = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._work, name="inbound-worklist", daemon=True)
        self._thread.start()

    def __call__(self, fact: InboundEvent) -> None:
        """Take one fact (called on the event loop; returns at once)."""
        if not isinstance(fact, (*MISSED, InboundAnswered, InboundJoined)):
            return
        with self._idle:
            self._pending += 1
        self._queue.put((fact, self.utcnow()))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._record(*item)
            except wl.InvalidCallerError as exc:
                self.rejected += 1
                log.warning("inbound_caller_invalid", error=str(exc), fact=repr(item[0]))
            except Exception:
                self.failures += 1
                log.exception("inbound_write_failed", fact=repr(item[0]))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _record(self, fact: InboundEvent, at: dt.datetime) -> None:
        region = self.settings.region
        if isinstance(fact, InboundJoined):
            self.publish(
                inbound_topic("joined"),
                {"server": fact.server, "queue": fact.queue, "caller": fact.caller},
            )
            return
        if isinstance(fact, InboundAnswered):
            closed = wl.record_answered(
                self.db,
                caller=fact.caller,
                queue=fact.queue,
                at=at,
                call_ref=f"{fact.server}/{fact.uniqueid}/answered",
                region=region,
            )
            payload = {"queue": fact.queue, "caller": fact.caller, "closed_rows": closed}
            self.publish(inbound_topic("answered"), payload)
            return
        queue_name, reason = _queue_and_reason(fact)
        res = wl.record_miss(
            self.db,
            caller=fact.caller,
            queue=queue_name,
            at=at,
            reason=reason,
            call_ref=f"{fact.server}/{fact.uniqueid}/missed",
            region=region,
            detail=_detail(fact),
        )
        if res.duplicate:
            self.duplicates += 1
            return
        self.recorded += 1
        row = wl.get_row(self.db, res.row_id)
        log.info("inbound_missed", row_id=row.id, queue=row.queue, count=row.miss_count)
        self.publish(inbound_topic("missed"), {**row.as_dict(), "new_row": res.new_row})
        if self.notifier is not None:
            self.notifier.notify(row)

    def wait_idle(self, within_s: float) -> bool:
        """Wait until every fact taken is written; False when ``within_s`` ran out."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, within_s)

    def close(self, within_s: float = 10.0) -> None:
        """Write what is queued, then stop the worker."""
        self.wait_idle(within_s)
        self._queue.put(None)
        self._thread.join(within_s)
        if self.notifier is not None:
            self.notifier.close(within_s)


def _queue_and_reason(fact: InboundEvent) -> tuple[str, str]:
    if isinstance(fact, InboundAbandoned):
        return fact.queue, "abandoned"
    if isinstance(fact, InboundLeftUnanswered):
        return fact.queue, "left_unanswered"
    if isinstance(fact, InboundMissed):
        return fact.queue or "unknown", fact.reason
    msg = f"not a missed call: {fact!r}"
    raise TypeError(msg)


def _detail(fact: InboundEvent) -> str:
    if isinstance(fact, InboundAbandoned):
        return f"held {fact.hold_s} s, position {fact.original_position}"
    if isinstance(fact, InboundMissed):
        return f"context {fact.context}"
    return ""


# ---- callback outcomes ---------------------------------------------------------------------


def _worklist_call(call: Call) -> bool:
    return "worklist_id" in call.lead.fields


class WorklistJournal(SqlJournal):
    """The engine's call journal, which also writes callback attempts of worklist rows."""

    def connected(self, call: Call) -> None:
        """The person was bridged to an agent: the callback reached them (row closes)."""
        super().connected(call)
        if _worklist_call(call):
            at = call.connect_at or self.clock.utcnow()
            self._attempt(call, Outcome.ANSWERED.value, reached=True, at=at, agent=call.agent_id)

    def finished(self, call: Call) -> None:
        """An attempt ended; one that never reached an agent is a history line."""
        super().finished(call)
        if not _worklist_call(call) or call.connect_at is not None:
            return
        if call.outcome is None or call.outcome is Outcome.CANCELLED:
            return
        at = call.end_at or self.clock.utcnow()
        self._attempt(call, call.outcome.value, reached=False, at=at, agent=call.reserved_agent)

    def _attempt(
        self, call: Call, outcome: str, *, reached: bool, at: dt.datetime, agent: int | None
    ) -> None:
        wl.record_callback(
            self.db,
            record_id=call.lead.record_id,
            outcome=outcome,
            reached=reached,
            at=at,
            agent=str(agent) if agent is not None else None,
            call_ref=f"{call.call_id}/callback",
        )


def known_queues(settings_queues: Iterable[Iterable[str]], missed: Iterable[str]) -> list[str]:
    """Queues named in the servers' settings (followed queues and the "missed" queue)."""
    out: set[str] = set(missed)
    for queues in settings_queues:
        out |= set(queues)
    return sorted(q for q in out if q)
