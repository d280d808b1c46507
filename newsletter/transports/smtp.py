"""smtp://[user@]host:port[?starttls=1] and smtps:// through smtplib; NEWSLETTER_SMTP_PASSWORD."""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import ConfigError, TransportError
from .base import Envelope

PASSWORD_ENV = "NEWSLETTER_SMTP_PASSWORD"


class SMTPTransport:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ConfigError(
                f"transport '{url}': no host; write smtp://relay.example:587?starttls=1"
            )
        self.url = url
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        try:
            self.port = parts.port or (465 if self.implicit_tls else 25)
        except ValueError:
            raise ConfigError(f"transport '{url}': the port is not a number") from None
        query = parse_qs(parts.query)
        self.starttls = query.get("starttls", ["0"])[0] in {"1", "true", "yes"}
        self.user = unquote(parts.username) if parts.username else None
        self.timeout = timeout
        self.connection: smtplib.SMTP | None = None
        if self.user and not os.environ.get(PASSWORD_ENV):
            raise ConfigError(f"transport '{url}' logs in as {self.user}; set {PASSWORD_ENV}")

    def open(self) -> None:
        context = ssl.create_default_context()
        try:
            if self.implicit_tls:
                self.connection = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                self.connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.starttls:
                    self.connection.starttls(context=context)
            if self.user:
                self.connection.login(self.user, os.environ[PASSWORD_ENV])
        except smtplib.SMTPAuthenticationError as exc:
            raise ConfigError(
                f"{self.describe()}: login refused ({exc.smtp_code}); check the user "
                f"and {PASSWORD_ENV}"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(f"{self.describe()}: cannot connect ({exc})") from None

    def send(self, envelope: Envelope, data: bytes) -> str:
        if self.connection is None:
            self.open()
        assert self.connection is not None
        try:
            refused = self.connection.sendmail(envelope.sender, [envelope.recipient], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, message = exc.recipients.get(envelope.recipient, (550, b"refused"))
            raise self._error(code, message) from None
        except smtplib.SMTPResponseException as exc:
            raise self._error(exc.smtp_code, exc.smtp_error) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.connection = None  # reconnect on the next message
            raise TransportError(f"{self.describe()}: connection lost ({exc})") from None
        if refused:
            code, message = refused[envelope.recipient]
            raise self._error(code, message)
        return "250 OK"

    def _error(self, code: int, message: bytes | str) -> TransportError:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        reply = f"{code} {text}"
        return TransportError(
            f"{self.describe()}: {reply}", permanent=500 <= code < 600, reply=reply
        )

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.quit()
            self.connection = None

    def describe(self) -> str:
        return f"SMTP {self.host}:{self.port}"
