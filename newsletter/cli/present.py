"""Text for the terminal, made from the data the library returns (--json prints that data)."""

from __future__ import annotations


def format_mailing_report(report: dict[str, object]) -> str:
    """How a send went (ledger.mailing_report), as a person reads it."""
    counts_ = report["counts"]
    assert isinstance(counts_, dict)
    order = ("sent", "deferred", "failed", "in-doubt", "queued", "sending", "skipped", "cancelled")
    lines = [
        f"{report['mailing']}: {report['status']} — {report['subject']}",
        "  " + ", ".join(f"{counts_.get(s, 0)} {s}" for s in order if counts_.get(s)),
    ]
    per = report["per_province"]
    assert isinstance(per, dict)
    lines.append(
        "  per province: "
        + "; ".join(
            f"{code} " + "/".join(f"{n} {s}" for s, n in sorted(c.items()))
            for code, c in per.items()
        )
    )
    slowest = report["slowest"]
    assert isinstance(slowest, list)
    if slowest:
        lines.append(
            "  slowest replies: "
            + ", ".join(f"{r['email']} {r['duration_ms']:.0f} ms" for r in slowest)
        )
    errors = report["errors"]
    assert isinstance(errors, list)
    for row in errors:
        lines.append(f"  {row['n']:>5} × {row['reply']}")
    in_doubt = report["in_doubt"]
    assert isinstance(in_doubt, list)
    if in_doubt:
        lines.append(
            f"  in doubt (may have been sent; 'issue send --in-doubt resend' sends them "
            f"again with the same Message-ID): {', '.join(in_doubt)}"
        )
    if report["next_retry"]:
        lines.append(f"  next retry: {report['next_retry']}")
    bounces, complaints = report.get("bounces") or {}, report.get("complaints") or 0
    assert isinstance(bounces, dict)
    if bounces or complaints:
        lines.append(
            "  bounces: "
            + (", ".join(f"{n} {kind}" for kind, n in sorted(bounces.items())) or "none")
            + f"; complaints: {complaints}"
        )
    warnings = report.get("warnings") or []
    assert isinstance(warnings, list)
    lines += [f"  warning: {w}" for w in warnings]
    return "\n".join(lines)
