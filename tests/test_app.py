"""The wiring in newsletter/app.py: holders and hooks registered explicitly, in a written order,
and nothing registered as a side effect of importing a module."""

from __future__ import annotations

import subprocess
import sys

from newsletter import app
from newsletter.inbound import conversations, processing
from newsletter.people import privacy

FORGET_ORDER = [
    "mandates",
    "deliveries",
    "bounces",
    "outbox",
    "events",
    "approved versions",
    "inbound",
    "inbound-verdicts",
    "conversations",
    "onboarding",
]


def python(code: str) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter: import side effects cannot hide behind this process's."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_forget_erases_in_the_order_written_in_app_py():
    app.wire()
    assert [h.name for h in privacy.HOLDERS] == FORGET_ORDER


def test_wiring_twice_registers_nothing_twice():
    app.wire()
    app.wire()
    assert [h.name for h in privacy.HOLDERS] == FORGET_ORDER
    assert [conversations.add_inbound_from_processing] == processing.MESSAGE_HOOKS
    assert [conversations.catch_up] == processing.CATCH_UP_HOOKS


def test_importing_every_module_registers_nothing():
    result = python(
        "import newsletter.cli.main, newsletter.tick, newsletter.demo\n"
        "from newsletter.people import privacy\n"
        "from newsletter.inbound import processing\n"
        "print(len(privacy.HOLDERS), len(processing.MESSAGE_HOOKS), "
        "len(processing.CATCH_UP_HOOKS))"
    )
    assert result.stdout.split() == ["0", "0", "0"], result.stderr


def test_forget_without_wiring_refuses_instead_of_forgetting_half(instance):
    result = python(
        "import sys\n"
        "from newsletter import store\n"
        "from newsletter.config import load_settings\n"
        "from newsletter.people import privacy\n"
        "try:\n"
        f"    settings = load_settings({str(instance)!r})\n"
        "    privacy.forget(store.connect(':memory:'), settings, 'a@b.example')\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    assert result.stdout.strip() == (
        "no holders of personal data registered: call newsletter.app.wire()"
    )


def test_the_public_web_app_loads_neither_the_preflight_nor_the_editorial_workflow():
    # Of the onboarding programme it loads the enrolment use case ("Alleen stoppen met het
    # inwerkprogramma" calls its stop), never the sending of steps or their messages.
    result = python(
        "import sys, newsletter.web.public\n"
        "print(' '.join(m for m in sys.modules if m.startswith(('newsletter.preflight', "
        "'newsletter.editorial', 'newsletter.onboarding.steps', "
        "'newsletter.onboarding.messages', 'newsletter.onboarding.programme', "
        "'newsletter.inbound'))))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
