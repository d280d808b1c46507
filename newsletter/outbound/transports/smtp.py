"""smtp://[user@]host:port[?starttls=1] and smtps:// through smtplib; NEWSLETTER_SMTP_PASSWORD,
or with `&auth=oauth2` an [oauth2] access token by AUTH XOAUTH2 (Microsoft 365)."""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from newsletter import oauth2
from newsletter.config import load_settings, redact_url
from newsletter.errors import ConfigError, TransportError
from newsletter.outbound.transports.base import Envelope, Unclaimed
from newsletter.settings import OAuth2

PASSWORD_ENV = "NEWSLETTER_SMTP_PASSWORD"
FINAL_REPLY_TIMEOUT = 600.0  # seconds the relay may take to answer the end of the data
_DOT = re.compile(rb"(?m)^\.")  # a line that starts with a dot gets a second one (RFC 5321)


class SMTPTransport:
    def __init__(self, url: str, timeout: float = 30.0, project: Path | None = None) -> None:
        parts = urlsplit(url)
        shown = redact_url(url)
        if parts.password is not None:
            raise ConfigError(
                f"transport '{shown}' holds a password; remove it and set {PASSWORD_ENV} instead"
            )
        if not parts.hostname:
            raise ConfigError(
                f"transport '{shown}': no host; write smtp://relay.example:587?starttls=1"
            )
        self.url = url
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        try:
            self.port = parts.port or (465 if self.implicit_tls else 25)
        except ValueError:
            raise ConfigError(f"transport '{shown}': the port is not a number") from None
        query = parse_qs(parts.query)
        self.starttls = query.get("starttls", ["0"])[0] in {"1", "true", "yes"}
        self.user = unquote(parts.username) if parts.username else None
        self.timeout = timeout
        self.connection: smtplib.SMTP | None = None
        self.oauth2: OAuth2 | None = None
        if query.get("auth", [""])[0] == "oauth2":
            self.oauth2 = load_settings(project).oauth2 if project is not None else None
            if self.oauth2 is None or not self.user:
                raise ConfigError(
                    f"transport '{shown}': auth=oauth2 needs an [oauth2] table and the mailbox "
                    "as the user, e.g. smtp://statenleden%40ipo.example@smtp.office365.com:587"
                    "?starttls=1&auth=oauth2"
                )
        elif self.user and not os.environ.get(PASSWORD_ENV):
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
            if self.oauth2 is not None and self.user:
                self._oauth2_login(self.connection, self.oauth2, self.user)
            elif self.user:
                self.connection.login(self.user, os.environ[PASSWORD_ENV])
            if self.connection.sock is not None:  # the final dot goes out on its own: no Nagle
                self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except oauth2.OAuth2Error:
            self._drop()
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise ConfigError(
                f"{self.describe()}: login refused ({exc.smtp_code}); check the user "
                f"and {PASSWORD_ENV}"
            ) from None
        except smtplib.SMTPResponseException as exc:  # e.g. 421 too many connections
            self.connection = None
            raise self._error(exc.smtp_code, exc.smtp_error, connecting=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.connection = None
            raise TransportError(
                f"{self.describe()}: cannot connect ({exc})", connection_lost=True
            ) from None

    def _oauth2_login(self, connection: smtplib.SMTP, config: OAuth2, user: str) -> None:
        """AUTH XOAUTH2 (a cached token, or a fresh one when the server refuses it)."""
        connection.ehlo_or_helo_if_needed()
        if (
            not connection.has_extn("auth")
            or "XOAUTH2" not in connection.esmtp_features.get("auth", "").upper().split()
        ):
            raise oauth2.OAuth2Error(
                f"{self.describe()} does not offer AUTH XOAUTH2 (it offers: "
                f"{connection.esmtp_features.get('auth', 'no AUTH').strip()}); use the "
                "provider's OAuth2 submission host, e.g. smtp.office365.com:587?starttls=1"
            )

        def attempt(token: str) -> None:
            try:
                # After a refusal the server sends a JSON challenge: answer it empty (RFC 7628).
                connection.auth(
                    "XOAUTH2",
                    lambda challenge=None: "" if challenge else oauth2.xoauth2(user, token),
                )
            except smtplib.SMTPAuthenticationError as exc:
                reply = (
                    exc.smtp_error.decode("utf-8", "replace")
                    if isinstance(exc.smtp_error, bytes)
                    else str(exc.smtp_error)
                )
                raise oauth2.Refused(f"{exc.smtp_code} {reply}") from None

        oauth2.sign_in(config, attempt, self.describe(), user)

    def send(self, envelope: Envelope, data: bytes) -> str:
        return self.send_gated(envelope, data, lambda: True)

    def send_gated(self, envelope: Envelope, data: bytes, gate: Callable[[], bool]) -> str:
        """One SMTP transaction (MAIL, RCPT, DATA); returns the server's reply to DATA.

        With PIPELINING (RFC 2920, which Postfix, Exchange and every large relay offer) the
        three commands go in one round trip. Dot-stuffing is skipped when no line starts with
        a dot, which is a scan instead of a regular expression over the whole message.
        Everything but the final dot goes out before gate() is asked (the engine commits the
        claim meanwhile); gate() False drops the connection, so the server discards it.
        """
        if self.connection is None:
            self.open()
        connection = self.connection
        assert connection is not None
        handed_over = False
        try:
            connection.ehlo_or_helo_if_needed()
            size = f" SIZE={len(data)}" if connection.has_extn("size") else ""
            commands = [
                f"MAIL FROM:<{envelope.sender}>{size}",
                f"RCPT TO:<{envelope.recipient}>",
                "DATA",
            ]
            accepted = ((250,), (250, 251), (354,))
            if connection.has_extn("pipelining"):
                connection.send("".join(f"{c}\r\n" for c in commands).encode("ascii"))
                replies = [connection.getreply() for _ in commands]
            else:
                replies = []
                for command in commands:
                    connection.putcmd(command)
                    replies.append(connection.getreply())
                    if replies[-1][0] not in accepted[len(replies) - 1]:
                        break
            for (code, message), ok in zip(replies, accepted, strict=False):
                if code not in ok:
                    if replies[-1][0] == 354:  # DATA was taken after all: end it empty
                        connection.send(b".\r\n")
                        connection.getreply()
                    raise self._error(code, message)
            if data.startswith(b".") or b"\n." in data:
                data = _DOT.sub(b"..", data)
            if not data.endswith(b"\r\n"):
                data += b"\r\n"
            connection.send(data)
            if not gate():
                self._drop()  # without the final dot the server keeps nothing
                raise Unclaimed(envelope.message_id)
            handed_over = True
            connection.send(b".\r\n")
            if connection.sock is not None:  # content filters may take minutes (RFC 5321: 10)
                connection.sock.settimeout(max(self.timeout, FINAL_REPLY_TIMEOUT))
            code, message = connection.getreply()
            if connection.sock is not None:
                connection.sock.settimeout(self.timeout)
            if code != 250:
                raise self._error(code, message)
            return f"{code} {message.decode('utf-8', 'replace')}"
        except TransportError as exc:
            if exc.connection_lost:
                self._drop()
            else:
                self._reset()
            raise
        except smtplib.SMTPResponseException as exc:
            error = self._error(exc.smtp_code, exc.smtp_error)
            if error.connection_lost:
                self._drop()
            else:
                self._reset()
            raise error from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise TransportError(
                f"{self.describe()}: connection lost ({exc})",
                connection_lost=True,
                maybe_delivered=handed_over,
            ) from None

    def _error(self, code: int, message: bytes | str, connecting: bool = False) -> TransportError:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        reply = f"{code} {text}".strip()
        # 421: the server is closing the connection (busy, too many connections).
        lost = code == 421 or connecting
        what = "cannot connect: " if connecting else ""
        return TransportError(
            f"{self.describe()}: {what}{reply}",
            permanent=500 <= code < 600 and not connecting,  # a refused greeting is about us
            reply=reply,
            connection_lost=lost,
        )

    def _reset(self) -> None:
        """After a refused transaction: RSET, so the next one starts clean."""
        if self.connection is not None:
            try:
                self.connection.rset()
            except (OSError, smtplib.SMTPException):
                self._drop()

    def _drop(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.close()
        self.connection = None

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.quit()
            self.connection = None

    def describe(self) -> str:
        return f"SMTP {self.host}:{self.port}"
