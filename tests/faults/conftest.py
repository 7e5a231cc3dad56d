from tests.faults.ledger import ROWS


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    tr = terminalreporter
    tr.section("faults: every caller accounted for")
    tr.write_line(f"{'fault':58} {'placed':>6} {'answered':>8} {'callback':>8} {'lost':>5}")
    for r in ROWS:
        tr.write_line(f"{r['fault']:58} {r['placed']:>6} {r['answered']:>8} {r['callback']:>8} {r['lost']:>5}")
    total = {k: sum(r[k] for r in ROWS) for k in ("placed", "answered", "callback", "lost")}
    tr.write_line(f"{'total':58} {total['placed']:>6} {total['answered']:>8} {total['callback']:>8} {total['lost']:>5}")
