"""The house rules, read from the source: no import cycles, no upward imports, SQL only in
newsletter/store/, no module over 600 lines (issue #12; ARCHITECTURE.md explains the rules).

Each check is a plain function over a folder, so the tests below also seed a violation in a
small fake package and prove the checker catches it: a check that cannot fail proves nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "newsletter"

# The layer rule, lowest first: a module may import only from its own rank or lower. The most
# specific prefix wins ("newsletter.outbound.send" over "newsletter.outbound"). A module that
# matches no prefix has no rank, and that is a failure too: a new package gets its line here.
RANKS: dict[str, int] = {
    # 0 foundation: no knowledge of any stage
    "newsletter": 0,  # the package itself (its __init__ holds only the version)
    "newsletter.errors": 0,
    "newsletter.clock": 0,
    "newsletter.config": 0,
    "newsletter.settings": 0,
    "newsletter.envfile": 0,
    "newsletter.configread": 0,
    "newsletter.headers": 0,
    "newsletter.dates": 0,
    "newsletter.sanitize": 0,
    "newsletter.tokens": 0,
    "newsletter.locks": 0,
    "newsletter.addresses": 0,
    "newsletter.wsgi": 0,
    "newsletter.oauth2": 0,
    # 1 the store: the only place with SQL
    "newsletter.store": 1,
    # 2 pure: no SQL, no network, no SMTP
    "newsletter.content": 2,
    "newsletter.render": 2,
    "newsletter.mail": 2,
    # 3 engines
    "newsletter.sources": 3,
    "newsletter.issues": 3,
    "newsletter.people": 3,
    "newsletter.inbound": 3,
    "newsletter.outbound": 3,
    "newsletter.preflight": 3,
    "newsletter.staff": 3,
    "newsletter.doctor": 3,
    # 4 use cases
    "newsletter.outbound.send": 4,
    "newsletter.onboarding": 4,
    "newsletter.editorial": 4,
    # 5 entry points: parse, call a use case, present
    "newsletter.cli": 5,
    "newsletter.web": 5,
    "newsletter.console": 5,
    "newsletter.tick": 5,
    "newsletter.demo": 5,
    "newsletter.app": 5,
    "newsletter.__main__": 5,
}

STORE = "newsletter.store"
MAX_LINES = 600


# --- reading the package -----------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import of a module of the package: who imports what, and on which line."""

    importer: str
    imported: str
    line: int


def modules(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of the package under root, by dotted name (a package by its __init__)."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement at any depth (functions included), minus `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            children: list[ast.AST] = list(child.orelse)  # the `else:` runs, the body does not
        else:
            children = [child]
        for each in children:
            if isinstance(each, ast.Import | ast.ImportFrom):
                yield each
            yield from _import_nodes(each)


def imports(root: Path, package: str = PACKAGE) -> list[Import]:
    """The imports between modules of the package, module-level and function-level alike."""
    known = modules(root, package)
    found = []
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in _import_nodes(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                # `from pkg import mod` imports the module pkg.mod when there is one.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                    for alias in node.names
                ]
            for target in targets:
                # `import a.b.c` names a.b.c; fall back to the nearest enclosing module we know.
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.append(Import(name, target, node.lineno))
    return found


# --- the checks --------------------------------------------------------------------------


def rank_of(module: str, ranks: dict[str, int] = RANKS) -> int | None:
    """The rank of the most specific prefix of the module in the table, or None."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in ranks:
            if end == 1 and len(parts) > 1:
                return None  # the package name alone ranks only the package itself
            return ranks[prefix]
    return None


def unranked_modules(root: Path, package: str = PACKAGE) -> list[str]:
    return [name for name in modules(root, package) if rank_of(name) is None]


def upward_imports(root: Path, package: str = PACKAGE) -> list[str]:
    """Each import of a module of a higher rank, with both ranks."""
    problems = []
    for item in imports(root, package):
        mine, theirs = rank_of(item.importer), rank_of(item.imported)
        if mine is not None and theirs is not None and theirs > mine:
            problems.append(
                f"{item.importer} (rank {mine}) imports {item.imported} (rank {theirs}) "
                f"on line {item.line}"
            )
    return sorted(set(problems))


def import_cycles(root: Path, package: str = PACKAGE) -> list[str]:
    """One cycle per group of modules that import each other, as 'a -> b -> a'."""
    graph: dict[str, set[str]] = {name: set() for name in modules(root, package)}
    for item in imports(root, package):
        graph[item.importer].add(item.imported)

    # Tarjan's strongly connected components, iteratively (no recursion limit to hit).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))

    cycles = []
    for group in sorted(groups):
        # The shortest way from the group's first module back to itself, inside the group.
        first, members = group[0], set(group)
        paths = {first: [first]}
        queue = [first]
        cycle: list[str] = []
        while queue and not cycle:
            node = queue.pop(0)
            for nxt in sorted(graph[node] & members):
                if nxt == first:
                    cycle = [*paths[node], first]
                    break
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    queue.append(nxt)
        cycles.append(" -> ".join(cycle) + f" ({len(group)} modules in this knot)")
    return cycles


# SQL as the store writes it: a call on the Database or a connection, or a query in a string.
SQL_METHODS = {
    "execute",
    "executemany",
    "executescript",
    "query",
    "table",
    "rows_where",
    "delete_where",
    "count_where",
    "insert_all",
    "upsert",
    "upsert_all",
}
SQL_HANDLES = {"db", "conn", "connection", "database"}
SQL_TEXT = re.compile(
    r"\bselect\b[\s\S]+?\bfrom\b|\binsert\s+(?:or\s+\w+\s+)?into\b|\bupdate\s+\w+\s+set\b"
    r"|\bdelete\s+from\b|\bcreate\s+(?:unique\s+)?(?:table|index)\b|\balter\s+table\b",
    re.IGNORECASE,
)


def _handle(node: ast.expr) -> str | None:
    """The name of what a call or subscript is on: `db`, `self.db`, `settings.conn`..."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of docstring nodes: prose may say 'select ... from' without being SQL."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def sql_outside_store(root: Path, package: str = PACKAGE, store: str = STORE) -> list[str]:
    """Each place outside the store that talks SQL, as 'file:line: what'."""
    problems = []
    for name, path in modules(root, package).items():
        if name == store or name.startswith(store + "."):
            continue
        where = path.relative_to(root)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                method = node.func.attr
                on = _handle(node.func.value)
                if method in SQL_METHODS and (
                    on in SQL_HANDLES or method not in {"execute", "query", "table", "upsert"}
                ):
                    problems.append(f"{where}:{node.lineno}: {on + '.' if on else ''}{method}(...)")
            elif isinstance(node, ast.Subscript) and _handle(node.value) in SQL_HANDLES:
                problems.append(f"{where}:{node.lineno}: {_handle(node.value)}[...]")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and SQL_TEXT.search(node.value)
            ):
                text = " ".join(node.value.split())[:60]
                problems.append(f"{where}:{node.lineno}: SQL text {text!r}")
    return sorted(problems, key=lambda p: (p.split(":")[0], int(p.split(":")[1]), p))


def long_modules(root: Path, package: str = PACKAGE, limit: int = MAX_LINES) -> list[str]:
    """Each module over the limit, with its length."""
    found = []
    for path in modules(root, package).values():
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > limit:
            found.append(f"{path.relative_to(root)}: {count} lines (limit {limit})")
    return found


# --- the rules, on the real package ------------------------------------------------------


def test_every_module_has_a_rank() -> None:
    assert not (found := unranked_modules(ROOT)), "add to RANKS: " + ", ".join(found)


def test_no_import_cycles() -> None:
    assert not (found := import_cycles(ROOT)), "\n".join(found)


def test_no_upward_imports() -> None:
    assert not (found := upward_imports(ROOT)), "\n".join(found)


def test_no_sql_outside_the_store() -> None:
    assert not (found := sql_outside_store(ROOT)), "\n".join(found)


def test_no_module_over_600_lines() -> None:
    assert not (found := long_modules(ROOT)), "\n".join(found)


# --- the checkers catch what they are for ------------------------------------------------


def write(root: Path, module: str, source: str) -> None:
    """A module of the fake package: 'newsletter.render.issue' -> newsletter/render/issue.py."""
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(root).parents:
        if parent != Path("."):
            (root / parent / "__init__.py").touch()
    path.write_text(source, encoding="utf-8")


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    """A small package named like ours, every rule kept, for a test to break one."""
    write(tmp_path, "newsletter.errors", '"""Errors."""\n')
    write(tmp_path, "newsletter.store.subscribers", 'def find(db):\n    return db.execute("x")\n')
    write(tmp_path, "newsletter.render.issue", "from newsletter import errors\n")
    write(tmp_path, "newsletter.people.subscribers", "from newsletter.store import subscribers\n")
    write(tmp_path, "newsletter.cli.main", "import newsletter.people.subscribers\n")
    return tmp_path


def test_the_fake_package_keeps_every_rule(fake: Path) -> None:
    assert unranked_modules(fake) == []
    assert import_cycles(fake) == []
    assert upward_imports(fake) == []
    assert sql_outside_store(fake) == []
    assert long_modules(fake) == []


def test_a_cycle_through_a_function_level_import_is_named(fake: Path) -> None:
    write(fake, "newsletter.people.imports", "from newsletter.people import subscribers\n")
    write(
        fake,
        "newsletter.people.subscribers",
        "def later():\n    from newsletter.people.imports import x\n",
    )
    assert import_cycles(fake) == [
        "newsletter.people.imports -> newsletter.people.subscribers -> "
        "newsletter.people.imports (2 modules in this knot)"
    ]


def test_a_relative_import_counts_and_type_checking_imports_do_not(fake: Path) -> None:
    write(fake, "newsletter.people.imports", "from . import subscribers\n")
    write(
        fake,
        "newsletter.people.subscribers",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from newsletter.people.imports import Row\n",
    )
    assert import_cycles(fake) == []
    write(
        fake,
        "newsletter.people.subscribers",
        "if TYPE_CHECKING:\n    pass\nelse:\n    from .imports import Row\n",
    )
    assert len(import_cycles(fake)) == 1


def test_an_upward_import_names_both_modules_and_ranks(fake: Path) -> None:
    write(
        fake,
        "newsletter.render.issue",
        "def holders(db):\n    from newsletter.people.subscribers import current\n",
    )
    assert upward_imports(fake) == [
        "newsletter.render.issue (rank 2) imports newsletter.people.subscribers (rank 3) on line 2"
    ]


def test_the_most_specific_prefix_wins() -> None:
    assert rank_of("newsletter.outbound.send") == 4
    assert rank_of("newsletter.outbound.ledger") == 3
    assert rank_of("newsletter.outbound.transports.smtp") == 3
    assert rank_of("newsletter") == 0
    assert rank_of("newsletter.newthing") is None


def test_a_module_without_a_rank_is_named(fake: Path) -> None:
    write(fake, "newsletter.gadgets", "")
    assert unranked_modules(fake) == ["newsletter.gadgets"]


def test_sql_outside_the_store_is_named_by_file_and_line(fake: Path) -> None:
    write(
        fake,
        "newsletter.people.preferences",
        '"""Preferences: we never select anything from a table here (a docstring)."""\n'
        "def change(db, conn, email):\n"
        '    db["subscribers"].update(1, {"themes": "[]"})\n'
        '    conn.execute("pragma foreign_keys")\n'
        '    rows = db.query("select id from subscribers where email = ?", [email])\n'
        '    sql = "UPDATE subscribers SET status = ?"\n'
        '    db.table("x").rows_where("id = 1")\n'
        '    other = "delete from deliveries"\n'
        "    return [1].insert(0, 2), {}.update(a=1)\n",
    )
    where = "newsletter/people/preferences.py"
    assert sql_outside_store(fake) == [
        f"{where}:3: db[...]",
        f"{where}:4: conn.execute(...)",
        f"{where}:5: SQL text 'select id from subscribers where email = ?'",
        f"{where}:5: db.query(...)",
        f"{where}:6: SQL text 'UPDATE subscribers SET status = ?'",
        f"{where}:7: db.table(...)",
        f"{where}:7: rows_where(...)",
        f"{where}:8: SQL text 'delete from deliveries'",
    ]


def test_a_long_module_is_named(fake: Path) -> None:
    write(fake, "newsletter.inbound.classify", "x = 1\n" * 601)
    write(fake, "newsletter.inbound.mailbox", "x = 1\n" * 600)
    assert long_modules(fake) == ["newsletter/inbound/classify.py: 601 lines (limit 600)"]
