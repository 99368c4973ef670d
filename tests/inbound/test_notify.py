"""E-mail about new misses, through a local SMTP sink (aiosmtpd): a digest per user with
the rows of their queues, each row told once; nothing is marked told when sending fails."""

from __future__ import annotations

import datetime as dt
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from asterisk.queues import InboundAbandoned
from campaigns import inbound as wl
from campaigns.db import create_schema, make_engine
from dialer.config import InboundSettings
from dialer.runtime.inbound import InboundRecorder, Notifier
from tests.inbound.conftest import MailSink, free_port

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(tmp_path: Path) -> sa.Engine:
    """A fresh SQLite database with three misses in two queues."""
    eng = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    create_schema(eng)
    wl.record_miss(eng, caller="48601000001", queue="sales", at=T0)
    wl.record_miss(eng, caller="48601000002", queue="sales", at=T0)
    wl.record_miss(eng, caller="48601000003", queue="support", at=T0)
    return eng


def settings(port: int) -> InboundSettings:
    """Two digest users: one for every queue, one for 'support' only."""
    return InboundSettings.model_validate(
        {
            "smtp": {"host": "127.0.0.1", "port": port, "sender": "dialer@example.com"},
            "recipients": [
                {"user": "anna", "email": "anna@example.com"},
                {"user": "olek", "email": "olek@example.com", "queues": ["support"]},
            ],
        }
    )


def test_digest_mails_each_user_their_queues_once(
    db: sa.Engine, smtp: tuple[MailSink, int]
) -> None:
    """Anna gets the three callers, Olek only the 'support' one; a second digest with no
    new miss sends nothing; a new miss is in the next digest."""
    mail, port = smtp
    notifier = Notifier(settings(port))
    assert notifier.digest(db) == 2
    by_user = {m.rcpt_tos[0]: m.content.decode() for m in mail.messages}
    assert by_user.keys() == {"anna@example.com", "olek@example.com"}
    for phone in ("+48601000001", "+48601000002", "+48601000003"):
        assert phone in by_user["anna@example.com"]
    assert "+48601000003" in by_user["olek@example.com"]
    assert "+48601000001" not in by_user["olek@example.com"]
    assert notifier.digest(db) == 0
    wl.record_miss(db, caller="48601000001", queue="sales", at=T0 + dt.timedelta(minutes=5))
    assert notifier.digest(db) == 1
    assert "missed 2x" in mail.messages[-1].content.decode()


def test_failed_digest_keeps_rows_to_tell_later(db: sa.Engine) -> None:
    """With nobody listening on the SMTP port, nothing is sent, the failure is counted and
    the rows stay untold for the next digest."""
    notifier = Notifier(settings(free_port()))
    assert notifier.digest(db) == 0
    assert notifier.failed == 2
    assert len(wl.unnotified(db)) == 3


class HeldMailer:
    """A mail server that takes each message only when let go (a slow SMTP server)."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.sent: list[str] = []
        self.done = threading.Condition()

    def send(self, message: EmailMessage) -> None:
        self.go.wait(30)
        with self.done:
            self.sent.append(str(message["Subject"]))
            self.done.notify_all()


def test_a_slow_mail_server_does_not_hold_up_the_worklist(tmp_path: Path) -> None:
    """An immediate mail that hangs in the SMTP server: the next misses are still written to
    the worklist at once; the mails go out when the server answers."""
    db = make_engine(f"sqlite:///{tmp_path / 'slow.db'}")
    create_schema(db)
    inbound = InboundSettings.model_validate(
        {"recipients": [{"user": "anna", "email": "anna@example.com", "mode": "immediate"}]}
    )
    mailer = HeldMailer()
    recorder = InboundRecorder(
        db, inbound, utcnow=lambda: T0, notifier=Notifier(inbound, mailer=mailer)
    )
    try:
        for n, caller in enumerate(("48601000001", "48601000002", "48601000003")):
            recorder(InboundAbandoned("sim", "sales", caller, f"u{n}", 30, 1, 1))
        assert recorder.wait_idle(5.0), "the worklist's writes waited for the mail server"
        assert wl.open_count(db) == 3
        assert mailer.sent == []
        mailer.go.set()
        with mailer.done:
            assert mailer.done.wait_for(lambda: len(mailer.sent) == 3, 10)
        assert all(subject.startswith("Missed call from +4860100000") for subject in mailer.sent)
    finally:
        mailer.go.set()
        recorder.close()
    db.dispose()
