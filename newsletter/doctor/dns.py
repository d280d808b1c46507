"""DNS questions for the doctor (dnspython), and SPF evaluated the way a receiver does.

Every answer is one of three things: records, none (NXDOMAIN or no data: a definite "not
there"), or unreachable (a timeout, SERVFAIL, REFUSED: no internet, or a server that does not
know). The checks turn "none" into an error and "unreachable" into a warning, never a crash.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.name
import dns.rdatatype
import dns.resolver

from newsletter.configread import split_nameserver
from newsletter.settings import Doctor

SPF_LOOKUP_LIMIT = 10  # RFC 7208 4.6.4: include, a, mx, ptr, exists and redirect count


class Unreachable(Exception):
    """DNS gave no definite answer (timeout, SERVFAIL, REFUSED, no network)."""


@dataclass(frozen=True)
class Answer:
    records: tuple[str, ...]  # each record as text (TXT strings joined)
    authenticated: bool = False  # the resolver validated it with DNSSEC (AD flag)
    signed: bool = False  # RRSIG records came with it (the zone is signed)


class Resolver:
    """Asks one DNS server ([doctor] nameserver) or the system's; caches per run."""

    def __init__(self, config: Doctor) -> None:
        self.where = config.nameserver or "the system resolver"
        if config.nameserver:
            parsed = split_nameserver(config.nameserver)
            assert parsed is not None, "checked by read_doctor"
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = [parsed[0]]
            self.resolver.port = parsed[1]
        else:
            try:
                self.resolver = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration:  # no /etc/resolv.conf: offline
                self.resolver = dns.resolver.Resolver(configure=False)
        self.resolver.lifetime = config.timeout
        self.resolver.timeout = config.timeout
        self.cache: dict[tuple[str, str, bool], Answer] = {}

    def ask(self, name: str, rdtype: str, dnssec: bool = False) -> Answer:
        """The records of name and type; empty when there are none; Unreachable otherwise."""
        key = (name.lower().rstrip("."), rdtype, dnssec)
        if key in self.cache:
            return self.cache[key]
        if not self.resolver.nameservers:
            raise Unreachable("no DNS server is configured on this machine")
        if dnssec:
            self.resolver.use_edns(0, dns.flags.DO, 1232)
        try:
            answer = self.resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            result = Answer(())
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise Unreachable(f"{self.where} gave no answer for {name} {rdtype} ({exc})") from None
        except dns.exception.DNSException as exc:
            raise Unreachable(f"{name} {rdtype}: {exc}") from None
        else:
            records = tuple(_text(r) for r in answer) if answer.rrset is not None else ()
            signed = any(rrset.rdtype == dns.rdatatype.RRSIG for rrset in answer.response.answer)
            result = Answer(records, bool(answer.response.flags & dns.flags.AD), signed)
        finally:
            if dnssec:
                self.resolver.use_edns(0, 0, 1232)
        self.cache[key] = result
        return result

    def txt(self, name: str) -> tuple[str, ...]:
        return self.ask(name, "TXT").records

    def addresses(self, name: str) -> tuple[str, ...]:
        """A and AAAA of a host name (an IP literal is itself)."""
        try:
            return (str(ipaddress.ip_address(name)),)
        except ValueError:
            pass
        return self.ask(name, "A").records + self.ask(name, "AAAA").records

    def mx(self, name: str) -> list[tuple[int, str]]:
        """(preference, host) sorted; a null MX is (0, "")."""
        found = []
        for record in self.ask(name, "MX").records:
            preference, _, host = record.partition(" ")
            found.append((int(preference), host.rstrip(".").lower()))
        return sorted(found)


def _text(rdata: object) -> str:
    strings = getattr(rdata, "strings", None)
    if strings is not None:  # TXT: the strings of one record are one value (RFC 7208 3.3)
        return b"".join(strings).decode("utf-8", "replace")
    return str(rdata)


# -- SPF --------------------------------------------------------------------------------------


@dataclass
class SpfRun:
    """One evaluation: the DNS-querying terms counted, and what was looked at."""

    resolver: Resolver
    lookups: int = 0
    trail: list[str] = field(default_factory=list)

    def count(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > SPF_LOOKUP_LIMIT:
            raise SpfError(
                f"permerror: more than {SPF_LOOKUP_LIMIT} DNS lookups (at {term}); receivers "
                "stop there and treat SPF as broken"
            )


class SpfError(Exception):
    """A permanent error in the SPF record (receivers treat it as a fail)."""


def spf_record(resolver: Resolver, domain: str) -> str | None:
    """The domain's one SPF record, None when it has none; SpfError when it has two."""
    records = [r for r in resolver.txt(domain) if r.lower().split(" ", 1)[0] == "v=spf1"]
    if len(records) > 1:
        raise SpfError(f"permerror: {domain} has {len(records)} SPF records; keep exactly one")
    return records[0] if records else None


QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}


def check_host(run: SpfRun, ip: str, domain: str, depth: int = 0) -> str:
    """RFC 7208 check_host(): pass, fail, softfail, neutral or none (SpfError: permerror).

    Macros (%{...}) and ptr are not evaluated: the doctor says so rather than guess."""
    if depth > SPF_LOOKUP_LIMIT:
        raise SpfError("permerror: include/redirect loop")
    record = spf_record(run.resolver, domain)
    if record is None:
        if depth:
            raise SpfError(f"permerror: {domain} (included) has no SPF record")
        return "none"
    run.trail.append(f"{domain}: {record}")
    address = ipaddress.ip_address(ip)
    redirect = None
    for term in record.split()[1:]:
        if "=" in term and ":" not in term.split("=", 1)[0]:
            name, _, value = term.partition("=")
            if name.lower() == "redirect":
                redirect = value
            continue
        qualifier = QUALIFIERS.get(term[0], "")
        if qualifier:
            term = term[1:]
        else:
            qualifier = "pass"
        mechanism, _, argument = term.partition(":")
        mechanism, _, cidr = mechanism.partition("/") if not argument else (mechanism, "", "")
        if "%" in argument:
            raise SpfError(f"the doctor does not evaluate SPF macros ({term}); check by hand")
        if _matches(run, address, mechanism.lower(), argument, cidr, domain, depth, term):
            return qualifier
    if redirect is not None:
        run.count(f"redirect={redirect}")
        return check_host(run, ip, redirect, depth + 1)
    return "neutral"


def _matches(
    run: SpfRun,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    mechanism: str,
    argument: str,
    cidr: str,
    domain: str,
    depth: int,
    term: str,
) -> bool:
    if mechanism == "all":
        return True
    if mechanism in {"ip4", "ip6"}:
        try:
            return address in ipaddress.ip_network(argument, strict=False)
        except (ValueError, TypeError):
            raise SpfError(f"permerror: '{term}' is not a valid network") from None
    if mechanism == "include":
        run.count(term)
        return check_host(run, str(address), argument, depth + 1) == "pass"
    if mechanism in {"a", "mx"}:
        run.count(term)
        target, _, prefix = (argument or domain).partition("/")
        hosts = [h for _, h in run.resolver.mx(target) if h] if mechanism == "mx" else [target]
        for host in hosts[:10]:
            for found in run.resolver.addresses(host):
                bits = prefix or cidr or ("32" if ":" not in found else "128")
                network = ipaddress.ip_network(f"{found}/{bits}", strict=False)
                if address.version == network.version and address in network:
                    return True
        return False
    if mechanism == "exists":
        run.count(term)
        return bool(run.resolver.ask(argument, "A").records)
    if mechanism == "ptr":
        run.count(term)
        return False  # discouraged (RFC 7208 5.5) and not evaluated here
    raise SpfError(f"permerror: unknown mechanism '{term}'")


def organisational(domain: str) -> str:
    """The organisational domain for relaxed alignment: the last two labels.

    Good for .nl and .example; a public suffix of two labels (co.uk) would need the list."""
    labels = domain.lower().rstrip(".").split(".")
    return ".".join(labels[-2:])


def parse_tags(record: str) -> dict[str, str]:
    """DKIM and DMARC tag lists: "v=DMARC1; p=reject" -> {"v": "DMARC1", "p": "reject"}."""
    tags = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = "".join(value.split())
    return tags


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() in {"localhost", "localhost.localdomain"}


def is_public(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_global
    except ValueError:
        return False


def name_of(value: str) -> str:
    """A host name as DNS writes it, lowercase without the final dot."""
    return dns.name.from_text(value).to_text(omit_final_dot=True).lower()
