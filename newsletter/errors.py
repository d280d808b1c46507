"""The exceptions the library raises; cli.py turns them into one line and an exit code."""


class NewsletterError(Exception):
    """Something the user can act on: the message says what failed and what to do."""


class ConfigError(NewsletterError):
    """newsletter.toml or the environment is wrong or incomplete."""


class ContentError(NewsletterError):
    """A content file, an issue file or an item is invalid."""


class FeedError(NewsletterError):
    """One feed could not be fetched or parsed."""


class HeaderError(NewsletterError):
    """A value destined for a mail header is unsafe (CR, LF, NUL or an encoded-word)."""


class ImportRowError(NewsletterError):
    """One row of a subscriber import is invalid."""


class TransportError(NewsletterError):
    """A transport could not deliver one message.

    `permanent`: retrying this message cannot help (a 5xx). `connection_lost`: the connection is
    gone (a drop, a 421, a timeout) and the next attempt needs a new one. `maybe_delivered`: it
    was lost after the whole message was handed over, so the relay may have accepted it.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        reply: str = "",
        connection_lost: bool = False,
        maybe_delivered: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.reply = reply or message
        self.connection_lost = connection_lost
        self.maybe_delivered = maybe_delivered


class Busy(NewsletterError):
    """Another process holds the lock on this work; nothing was done."""
