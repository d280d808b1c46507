"""The DNS checks: SPF, DKIM key, DMARC, MX, MTA-STS and DANE for the sender's domain."""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization

from newsletter.config import Settings
from newsletter.doctor.dns import (
    Resolver,
    SpfError,
    SpfRun,
    Unreachable,
    check_host,
    is_loopback,
    parse_tags,
    spf_record,
)
from newsletter.doctor.model import ERROR, OK, WARNING, Check
from newsletter.doctor.network import Unavailable, fetch
from newsletter.mail.dkim import KEY_ENV

NO_NETWORK = "run the doctor where DNS answers (or set [doctor] nameserver)"


def envelope_domain(settings: Settings) -> str:
    """The Return-Path domain of our mail: the VERP bounce address's, else the sender's."""
    address = settings.delivery.bounce_address or settings.sender_address
    return address.rpartition("@")[2].lower()


def unreachable(key: str, title: str, exc: Unreachable) -> Check:
    return Check(key, title, WARNING, f"could not ask DNS: {exc}", NO_NETWORK)


def sending_addresses(settings: Settings, resolver: Resolver) -> tuple[list[str], str]:
    """The addresses our mail leaves from ([doctor] sending_ips, else the relay's), and a note
    when they cannot stand for the public one."""
    if settings.doctor.sending_ips:
        return list(settings.doctor.sending_ips), ""
    parts = urlsplit(settings.transport)
    host = parts.hostname or ""
    if parts.scheme not in {"smtp", "smtps"} or is_loopback(host):
        return [], (
            "the relay is on this machine (or there is none): name the public address(es) it "
            'sends from in [doctor] sending_ips = ["192.0.2.25"]'
        )
    return list(resolver.addresses(host)), ""


def check_spf(settings: Settings, resolver: Resolver) -> Check:
    """The envelope domain's SPF record permits every address our mail leaves from."""
    key, title = "spf", "SPF"
    domain = envelope_domain(settings)
    try:
        record = spf_record(resolver, domain)
        if record is None:
            return Check(
                key,
                title,
                ERROR,
                f"{domain} has no SPF record (v=spf1 TXT)",
                f'publish {domain}. TXT "v=spf1 mx include:<your relay\'s SPF> -all"',
            )
        addresses, note = sending_addresses(settings, resolver)
        if not addresses:
            return Check(key, title, WARNING, f"{domain}: {record}; {note}", note)
        results = {}
        run = SpfRun(resolver)
        for ip in addresses:
            run.lookups = 0
            results[ip] = check_host(run, ip, domain)
    except Unreachable as exc:
        return unreachable(key, title, exc)
    except SpfError as exc:
        return Check(key, title, ERROR, f"{domain}: {exc}", "fix the SPF record it names")
    lookups = f"{run.lookups} of {10} DNS lookups"
    failed = {ip: r for ip, r in results.items() if r != "pass"}
    if failed:
        said = ", ".join(f"{ip}: {r}" for ip, r in failed.items())
        return Check(
            key,
            title,
            ERROR,
            f"{domain}: {record}; does not permit {said}",
            f"add ip4:{next(iter(failed))} (or the relay's include:) to {domain}'s SPF record",
        )
    return Check(key, title, OK, f"{domain}: {record}; permits {', '.join(results)} ({lookups})")


def public_key_of(private_pem: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of a PEM private key: what p= in DNS holds."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_dkim(settings: Settings, resolver: Resolver) -> Check:
    """The selector's public key in DNS is the one of the configured private key."""
    key, title = "dkim", "DKIM key"
    selector, domain = settings.delivery.dkim_selector, settings.delivery.dkim_domain
    if not selector:
        return Check(
            key,
            title,
            WARNING,
            "[dkim] is not set: the app does not sign; there is no key here to compare",
            "if the relay signs (OpenDKIM), check its key with opendkim-testkey; else set "
            "[dkim] selector and domain and NEWSLETTER_DKIM_KEY_FILE",
        )
    name = f"{selector}._domainkey.{domain}"
    key_file = os.environ.get(KEY_ENV, "")
    try:
        ours = public_key_of(Path(key_file).read_bytes()) if key_file else None
    except (OSError, ValueError, TypeError) as exc:
        return Check(key, title, ERROR, f"{KEY_ENV}={key_file}: cannot read the key ({exc})")
    if ours is None:
        return Check(key, title, ERROR, f"[dkim] is set but {KEY_ENV} is not", f"set {KEY_ENV}")
    try:
        records = [r for r in resolver.txt(name) if "p=" in r]
    except Unreachable as exc:
        return unreachable(key, title, exc)
    if not records:
        published = base64.b64encode(ours).decode()
        return Check(
            key,
            title,
            ERROR,
            f"{name} has no DKIM key record",
            f'publish {name}. TXT "v=DKIM1; k=rsa; p={published}"',
        )
    tags = parse_tags(records[0])
    try:
        published_key = base64.b64decode(tags.get("p", ""), validate=True)
    except (binascii.Error, ValueError):
        return Check(key, title, ERROR, f"{name}: p= is not base64", "republish the key")
    if not published_key:
        return Check(key, title, ERROR, f"{name}: the key is revoked (empty p=)")
    if published_key != ours:
        return Check(
            key,
            title,
            ERROR,
            f"{name}: the key in DNS is not the public half of {KEY_ENV}; receivers will "
            "reject every signature",
            f'publish {name}. TXT "v=DKIM1; k=rsa; p={base64.b64encode(ours).decode()}"',
        )
    bits = getattr(serialization.load_der_public_key(ours), "key_size", 2048)
    strength = "" if bits >= 2048 else f"; the key has {bits} bits, fewer than 2048"
    return Check(
        key,
        title,
        WARNING if strength else OK,
        f"{name}: matches the private key{strength}",
        "make a 2048-bit key" if strength else "",
    )


def dmarc_policy(resolver: Resolver, domain: str) -> tuple[str, dict[str, str]] | None:
    """(where, tags) of the DMARC record for domain (or its organisational domain)."""
    labels = domain.split(".")
    for candidate in dict.fromkeys([domain, ".".join(labels[-2:])]):
        for record in resolver.txt(f"_dmarc.{candidate}"):
            tags = parse_tags(record)
            if tags.get("v", "").upper() == "DMARC1":
                return f"_dmarc.{candidate}", tags
    return None


def check_dmarc(settings: Settings, resolver: Resolver) -> Check:
    """A DMARC record for the From domain with p=quarantine or p=reject and a rua."""
    key, title = "dmarc", "DMARC"
    domain = settings.sender_domain.lower()
    example = (
        f'publish _dmarc.{domain}. TXT "v=DMARC1; p=reject; rua=mailto:dmarc-rapporten@{domain}"'
    )
    try:
        found = dmarc_policy(resolver, domain)
    except Unreachable as exc:
        return unreachable(key, title, exc)
    if found is None:
        return Check(key, title, ERROR, f"_dmarc.{domain} has no DMARC record", example)
    where, tags = found
    record = "; ".join(f"{k}={v}" for k, v in tags.items())
    policy = tags.get("p", "").lower()
    problems, fixes = [], []
    if policy not in {"quarantine", "reject"}:
        problems.append(f"p={policy or '(missing)'} does not protect the domain")
        fixes.append("move to p=quarantine, then p=reject (the Forum Standaardisatie norm)")
    if not tags.get("rua"):
        problems.append("no rua: nobody receives the aggregate reports")
        fixes.append(f"add rua=mailto:dmarc-rapporten@{domain}")
    if tags.get("pct", "100") != "100":
        problems.append(f"pct={tags['pct']} applies the policy to part of the mail only")
        fixes.append("remove pct")
    found_text = f"{where}: {record}" + (f"; {'; '.join(problems)}" if problems else "")
    if policy not in {"quarantine", "reject"}:
        return Check(key, title, ERROR, found_text, "; ".join(fixes))
    return Check(key, title, WARNING if problems else OK, found_text, "; ".join(fixes))


def check_mx(settings: Settings, resolver: Resolver) -> Check:
    """Replies and bounces can arrive: the sender's and the envelope domain's MX hosts resolve."""
    key, title = "mx", "MX"
    domains = list(dict.fromkeys([settings.sender_domain.lower(), envelope_domain(settings)]))
    found, problems = [], []
    try:
        for domain in domains:
            hosts = resolver.mx(domain)
            if not hosts:
                problems.append(f"{domain} has no MX record")
                continue
            if hosts == [(0, "")]:
                problems.append(f"{domain} has a null MX: it receives no mail")
                continue
            named = []
            for preference, host in hosts:
                addresses = resolver.addresses(host)
                named.append(f"{preference} {host}" + ("" if addresses else " (no address!)"))
                if not addresses:
                    problems.append(f"{host} has no A/AAAA record")
            found.append(f"{domain}: {', '.join(named)}")
    except Unreachable as exc:
        return unreachable(key, title, exc)
    if problems:
        return Check(
            key,
            title,
            ERROR,
            "; ".join(found + problems),
            "publish MX records whose hosts resolve, for replies to the sender and for bounces "
            "to the envelope address",
        )
    return Check(key, title, OK, "; ".join(found))


def mx_hosts(settings: Settings, resolver: Resolver) -> list[str]:
    return [host for _, host in resolver.mx(settings.sender_domain.lower()) if host]


def check_mta_sts(settings: Settings, resolver: Resolver) -> Check:
    """Where _mta-sts is published: the policy over https, in enforce mode, naming our MX."""
    key, title = "mta-sts", "MTA-STS"
    domain = settings.sender_domain.lower()
    try:
        records = [r for r in resolver.txt(f"_mta-sts.{domain}") if r.startswith("v=STSv1")]
        hosts = mx_hosts(settings, resolver)
    except Unreachable as exc:
        return unreachable(key, title, exc)
    if not records:
        return Check(key, title, OK, f"_mta-sts.{domain}: not published (optional next to DANE)")
    url = f"https://mta-sts.{domain}/.well-known/mta-sts.txt"
    try:
        reply = fetch(resolver, url, settings.doctor.timeout)
    except Unavailable as exc:
        return Check(
            key,
            title,
            ERROR if exc.hard else WARNING,
            f"_mta-sts.{domain} is published but the policy cannot be fetched: {exc}",
            f"serve the policy at {url} with a trusted certificate, or remove _mta-sts.{domain}",
        )
    if reply.status != 200:
        return Check(key, title, ERROR, f"{url}: {reply.status}", f"serve the policy at {url}")
    policy: dict[str, list[str]] = {}
    for line in reply.body.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        policy.setdefault(name.strip().lower(), []).append(value.strip())
    mode = (policy.get("mode") or [""])[0]
    patterns = policy.get("mx", [])
    uncovered = [h for h in hosts if not any(_mx_matches(p, h) for p in patterns)]
    found = f"{url}: mode {mode or '(missing)'}, mx {', '.join(patterns) or '(none)'}"
    if uncovered:
        return Check(
            key,
            title,
            ERROR,
            f"{found}; does not cover {', '.join(uncovered)}",
            "list every MX host in the policy (mx: lines), then change the id in the TXT record",
        )
    if mode != "enforce":
        return Check(key, title, WARNING, found, "move the policy to mode: enforce")
    return Check(key, title, OK, found)


def _mx_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host.count(".") == pattern.count(".")
    return host == pattern.lower()


def check_dane(settings: Settings, resolver: Resolver) -> Check:
    """TLSA records for port 25 of every MX host, usable for SMTP (usage 2 or 3), DNSSEC-signed."""
    key, title = "dane", "DANE (TLSA)"
    try:
        hosts = mx_hosts(settings, resolver)
        answers = {h: resolver.ask(f"_25._tcp.{h}", "TLSA", dnssec=True) for h in hosts}
        sts = bool(resolver.txt(f"_mta-sts.{settings.sender_domain.lower()}"))
    except Unreachable as exc:
        return unreachable(key, title, exc)
    present = {h: a for h, a in answers.items() if a.records}
    if not present:
        return Check(
            key,
            title,
            WARNING if sts else ERROR,
            f"no TLSA records for {', '.join(f'_25._tcp.{h}' for h in hosts) or 'the MX hosts'}",
            "sign the zone with DNSSEC and publish _25._tcp.<mx> TLSA 3 1 1 <sha256 of the "
            "key> for every MX host (DANE is on the Forum Standaardisatie list)",
        )
    problems, found = [], []
    for host in hosts:
        answer = answers[host]
        if not answer.records:
            problems.append(f"_25._tcp.{host} has none")
            continue
        usages = {r.split()[0] for r in answer.records}
        if not usages & {"2", "3"}:
            problems.append(f"_25._tcp.{host}: usage {', '.join(sorted(usages))} is not for SMTP")
        found.append(f"_25._tcp.{host}: {'; '.join(r[:40] for r in answer.records)}")
    unsigned = [h for h, a in present.items() if not (a.authenticated or a.signed)]
    if problems:
        return Check(
            key,
            title,
            ERROR,
            "; ".join(found + problems),
            "publish TLSA 3 1 1 (DANE-EE) or 2 1 1 (DANE-TA) for every MX host",
        )
    if unsigned:
        return Check(
            key,
            title,
            WARNING,
            "; ".join(found) + "; the answers are not DNSSEC-signed (senders ignore TLSA then)",
            "sign the zone with DNSSEC (ask your DNS provider)",
        )
    return Check(key, title, OK, "; ".join(found) + "; DNSSEC-signed")
