"""Output of a benchmark run: header, table, JSON file, A/B comparison, plot.

Everything here reads the run's JSON document (what ``bench --json`` writes),
so a saved run can be shown, compared or plotted again::

    {"format": 2, "machine": {...}, "method": {..., "threads": {name: how
     its threads were set, for the libraries with a note}}, "settings": {...},
     "bandwidth": {"method", "threads", "mib", "rounds": [{"copy_gbps",
                   "read_gbps"} or null per round]} or null,
     "results": [{"op", "shape", "dtype", "threads", "bytes_read",
                  "bytes_written", "bytes_moved", "agrees_with_reference",
                  "bandwidth_percent",
                  "implementations": {name: {"median_s", "best_round",
                      "round_medians_s", "best_s", "gbps",
                      "fastsoftmax_speedup",
                      "rounds": [{"samples_s", "calls_per_sample"}]}}}],
     "linear": {"size", "dtype", "results": {name: {op: {"seconds",
                "peak_extra", "rounds"}}}} or null,
     "memory": {"dtype", "results": [{"op", "shape", "impl", "peak_extra"}]}
               or null,
     "elapsed_s"}

``median_s`` is the best of the rounds' medians (the number in the table).
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from . import JSONDict
from .inputs import format_shape

#: Version of the JSON document's layout.
FORMAT = 2
#: The statistic of a cell.
STATISTIC = "best of the rounds' medians"


def _threads(n: int) -> str:
    return f"{n} thread" if n == 1 else f"{n} threads"


def _sig3(v: float) -> str:
    """Three significant digits, fixed point: 812, 40.1, 1.23."""
    v = float(f"{v:.3g}")  # round first, so 99.96 becomes 100, not 100.0
    digits = 0 if v >= 100 else 1 if v >= 10 else 2
    return f"{v:.{digits}f}"


def format_time(seconds: float) -> str:
    """Three significant digits with a unit.

    Examples
    --------
    >>> format_time(0.0401), format_time(812e-6), format_time(2.5)
    ('40.1 ms', '812 us', '2.50 s')
    """
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if float(f"{seconds / scale:.3g}") >= 1 or unit == "ns":
            return f"{_sig3(seconds / scale)} {unit}"
    raise AssertionError("unreachable")


def format_gbps(gbps: float | None) -> str:
    """GB/s with one decimal, two significant digits below 1; "-" for None."""
    if gbps is None:
        return "-"
    return f"{gbps:.1f}" if gbps >= 0.95 else f"{gbps:.2g}"


def format_speedup(ratio: float | None) -> str:
    """``x12.3``: the other implementation's time over ours; "-" for None."""
    return "-" if ratio is None else f"x{_sig3(ratio)}"


def format_percent(percent: float | None) -> str:
    """``87%``; "-" for None."""
    return "-" if percent is None else f"{percent:.0f}%"


# --------------------------------------------------------------------------
# header


def format_machine(info: JSONDict) -> str:
    """The machine-facts line, and a warning line if the machine looked busy."""
    versions = " ".join(f"{k} {v}" for k, v in info["versions"].items())
    cpus = f"{info['cores'] or '?'} cores"
    if info["logical_cpus"] != info["cores"]:
        cpus += f"/{info['logical_cpus']} CPUs"
    if info["usable_cpus"] != info["logical_cpus"]:
        cpus += f" ({info['usable_cpus']} usable)"
    omp = "" if info["openmp"] else " (no OpenMP)"
    quiet = []
    if info.get("load_average") is not None:
        quiet.append(f"load {info['load_average']:.1f}")
    if info.get("cpu_activity"):
        quiet.append(f"{info['cpu_activity']['idle']:.0%} idle")
    lines = [f"{info['cpu']} | {cpus} | {info['isa_selected']} | threads {info['threads']}"
             f"{omp} | {versions} | {info['date']}"
             + (f" | {', '.join(quiet)}" if quiet else "")]
    if info.get("busy"):
        lines.append(f"warning: the machine is busy ({'; '.join(info['busy'])}): the "
                     f"timings are unreliable; re-run on a quiet machine")
    return "\n".join(lines)


def format_method(method: JSONDict) -> str:
    """How the numbers were measured, in one line; then a line on the
    threads of the libraries not set through their usual API, if any ran."""
    line = (f"method: {method['rounds']} round(s), each running "
            f"{', '.join(method['order'])} in turn, each in a fresh process; "
            f"a cell is the {method['statistic']}")
    notes = method.get("threads") or {}
    if notes:
        line += "\nthreads: " + "; ".join(f"{name}: {note}" for name, note in notes.items())
    return line


def best_bandwidth(doc: JSONDict) -> JSONDict | None:
    """The round with the highest copy bandwidth: ``{"copy_gbps", "read_gbps"}``."""
    rounds = [b for b in ((doc.get("bandwidth") or {}).get("rounds") or []) if b]
    return max(rounds, key=lambda b: b["copy_gbps"]) if rounds else None


def format_bandwidth(bandwidth: JSONDict | None) -> str:
    """The memory-bandwidth line: best round, and the range over the rounds."""
    if not bandwidth or not any(bandwidth["rounds"]):
        return "memory bandwidth: not measured"
    rounds = [b for b in bandwidth["rounds"] if b]
    best = max(rounds, key=lambda b: b["copy_gbps"])
    line = (f"memory bandwidth ({_threads(bandwidth['threads'])}, {bandwidth['mib']} MiB "
            f"float32, {bandwidth['method']}; measured in each fastsoftmax process just "
            f"before its kernels): copy (read+write) {best['copy_gbps']:.1f} GB/s, "
            f"read {best['read_gbps']:.1f} GB/s")
    if len(rounds) > 1:
        def span(key: str) -> str:
            values = [b[key] for b in rounds]
            return f"{min(values):.1f}-{max(values):.1f}"
        line += f" (rounds: copy {span('copy_gbps')}, read {span('read_gbps')})"
    return line


def format_legend(dtype: str) -> str:
    """What the table's columns mean."""
    return "\n".join([
        f"{dtype}; times per call, each the {STATISTIC}; "
        f"vs X = X's time / fastsoftmax's (>1: fastsoftmax faster)",
        "GB/s = fastsoftmax's bytes read + written / time; % bw = the least time those "
        "bytes take at the bandwidth measured in the same process (written bytes at the "
        "copy bandwidth, other reads at the read bandwidth) / fastsoftmax's time (over 100%: "
        "the data fit in the caches)"])


def format_header(doc: JSONDict) -> str:
    """Machine, method and bandwidth lines of a run."""
    return "\n".join([format_machine(doc["machine"]), format_method(doc["method"]),
                      format_bandwidth(doc.get("bandwidth"))])


# --------------------------------------------------------------------------
# tables


def _others(results: Sequence[JSONDict], order: Sequence[str]) -> list[str]:
    present = {name for r in results for name in r["implementations"]}
    return [i for i in order if i != "fastsoftmax" and i in present]


def format_table(doc: JSONDict) -> str:
    """Aligned table: our time, GB/s and % of the bandwidth, then each other
    implementation's time and our speedup over it.  Columns of
    implementations that never ran are dropped; "-" marks an op an
    implementation does not provide."""
    results = doc["results"]
    others = _others(results, doc["method"]["order"])
    op_w = max([len("op")] + [len(r["op"]) for r in results])
    shape_w = max([len("shape")] + [len(format_shape(r["shape"])) for r in results])
    head = (f"{'op':<{op_w}}  {'shape':<{shape_w}}  {'fastsoftmax':>11}  {'GB/s':>6}"
            f"  {'% bw':>5}")
    widths = {name: (max(8, len(name)), max(8, len("vs " + name))) for name in others}
    for name in others:
        head += f"  {name:>{widths[name][0]}}  {'vs ' + name:>{widths[name][1]}}"
    lines = [head]
    for r in results:
        impls = r["implementations"]
        ours = impls.get("fastsoftmax")
        line = (f"{r['op']:<{op_w}}  {format_shape(r['shape']):<{shape_w}}  "
                f"{format_time(ours['median_s']) if ours else '-':>11}  "
                f"{format_gbps(ours['gbps'] if ours else None):>6}  "
                f"{format_percent(r['bandwidth_percent']):>5}")
        for name in others:
            t = impls.get(name)
            w_time, w_ratio = widths[name]
            line += (f"  {format_time(t['median_s']) if t else '-':>{w_time}}"
                     f"  {format_speedup(t['fastsoftmax_speedup'] if t else None):>{w_ratio}}")
        if r["agrees_with_reference"] is False:
            line += "  MISMATCH"
        lines.append(line)
    return "\n".join(lines)


def format_linear_table(linear: JSONDict) -> str:
    """The ``--linear`` table: time and extra peak memory per implementation."""
    n, d, v = linear["size"]
    logits_mib = n * v * np.dtype(linear["dtype"]).itemsize / 2**20
    lines = [f"linear_cross_entropy: hidden ({n}, {d}) x weight ({v}, {d}), "
             f"{linear['dtype']}; the logits alone would take {logits_mib:.0f} MiB; "
             f"best time over the rounds, largest peak",
             f"{'implementation':<14}{'loss':>12}{'peak +MiB':>11}"
             f"{'loss+grads':>13}{'peak +MiB':>11}"]
    for impl, by_op in linear["results"].items():
        cells = []
        for op in ("linear_cross_entropy", "linear_cross_entropy_and_grad"):
            r = by_op.get(op)
            if r is None:
                cells += ["-", "-"]
            else:
                peak = "-" if r["peak_extra"] is None else f"{r['peak_extra'] / 2**20:.0f}"
                cells += [format_time(r["seconds"]), peak]
        lines.append(f"{impl:<14}{cells[0]:>12}{cells[1]:>11}{cells[2]:>13}{cells[3]:>11}")
    return "\n".join(lines)


def format_comparison(a: JSONDict, b: JSONDict, sources: Sequence[str] = ("", "")) -> str:
    """A/B table of two runs (e.g. two builds): fastsoftmax's times in both
    and B/A, then B/A of every other implementation both ran, which shows how
    much the machine itself drifted between the runs.

    Rows are the (op, shape, dtype) both runs have, in A's order; ``sources``
    (file names) label the runs in the header.
    """
    na, nb = "A", "B"
    rows_b = {(r["op"], tuple(r["shape"]), r["dtype"]): r for r in b["results"]}
    pairs = [(r, rows_b[key]) for r in a["results"]
             if (key := (r["op"], tuple(r["shape"]), r["dtype"])) in rows_b]
    lines = [f"{name}: {source + ', ' if source else ''}{doc['machine']['date']}, "
             f"fastsoftmax {doc['machine']['versions']['fastsoftmax']}; "
             f"{format_bandwidth(doc.get('bandwidth'))}"
             for name, source, doc in ((na, sources[0], a), (nb, sources[1], b))]
    for name, doc in ((na, a), (nb, b)):
        if doc["machine"].get("busy"):
            lines.append(f"warning: {name}'s machine was busy: {'; '.join(doc['machine']['busy'])}")
    if not pairs:
        return "\n".join(lines + ["no (op, shape, dtype) in common"])
    others = [i for i in _others(a["results"], a["method"]["order"])
              if i in {n for _, rb in pairs for n in rb["implementations"]}]
    op_w = max(len("op"), *(len(ra["op"]) for ra, _ in pairs))
    shape_w = max(len("shape"), *(len(format_shape(ra["shape"])) for ra, _ in pairs))
    lines.append(f"times: each run's {STATISTIC}; {nb}/{na}: {nb}'s time / {na}'s "
                 f"(< 1: {nb} faster; other implementations' ratios show the machine's drift)")
    head = (f"{'op':<{op_w}}  {'shape':<{shape_w}}  {'fsm ' + na:>9}  {'fsm ' + nb:>9}"
            f"  {nb + '/' + na:>6}")
    for name in others:
        head += f"  {name + ' ' + nb + '/' + na:>{max(8, len(name) + 4)}}"
    lines.append(head)

    def ratio(ra: JSONDict, rb: JSONDict, impl: str) -> str:
        ta, tb = ra["implementations"].get(impl), rb["implementations"].get(impl)
        return "-" if ta is None or tb is None else f"{tb['median_s'] / ta['median_s']:.2f}"

    for ra, rb in pairs:
        ta, tb = ra["implementations"].get("fastsoftmax"), rb["implementations"].get("fastsoftmax")
        line = (f"{ra['op']:<{op_w}}  {format_shape(ra['shape']):<{shape_w}}  "
                f"{format_time(ta['median_s']) if ta else '-':>9}  "
                f"{format_time(tb['median_s']) if tb else '-':>9}  "
                f"{ratio(ra, rb, 'fastsoftmax'):>6}")
        for name in others:
            line += f"  {ratio(ra, rb, name):>{max(8, len(name) + 4)}}"
        lines.append(line)
    return "\n".join(lines)


# --------------------------------------------------------------------------
# files


def write_json(path: str, doc: JSONDict) -> None:
    """Write a run's document (see the module docstring)."""
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def read_json(path: str) -> JSONDict:
    """Read a document written by :func:`write_json`.

    Raises
    ------
    ValueError
        If the file is not a benchmark document of this layout.
    """
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fastsoftmax bench JSON file of format {FORMAT} "
                         f"(written by python -m fastsoftmax bench --json)")
    return doc


def plot(doc: JSONDict, path: str) -> None:
    """Grouped bars of GB/s per shape (every implementation of the run but
    SciPy, whose NumPy code the numpy bars already show), one subplot per op,
    with the best round's copy and read bandwidth as lines.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    import matplotlib
    matplotlib.use("Agg")  # file output only; works without a display
    import matplotlib.pyplot as plt

    results = doc["results"]
    bandwidth = best_bandwidth(doc)
    ops = list(dict.fromkeys(r["op"] for r in results))
    order = ["fastsoftmax", *doc["method"]["order"]]
    impls = [i for i in dict.fromkeys(order)
             if i != "scipy" and any(i in r["implementations"] for r in results)]
    fig, axes = plt.subplots(len(ops), 1, figsize=(10, 1 + 2.8 * len(ops)), squeeze=False)
    width = 0.8 / len(impls)
    for ax, op in zip(axes[:, 0], ops):
        rows = [r for r in results if r["op"] == op]
        x = np.arange(len(rows))
        for k, impl in enumerate(impls):
            vals = [(r["implementations"].get(impl) or {}).get("gbps") or 0.0
                    for r in rows]  # 0: not available
            ax.bar(x + (k - (len(impls) - 1) / 2) * width, vals, width, label=impl)
        if bandwidth is not None:
            threads = doc["bandwidth"]["threads"]
            ax.axhline(bandwidth["copy_gbps"], color="k", linestyle="--", linewidth=1,
                       label=f"{threads}-thread copy bandwidth "
                             f"({bandwidth['copy_gbps']:.0f} GB/s)")
            ax.axhline(bandwidth["read_gbps"], color="k", linestyle=":", linewidth=1,
                       label=f"{threads}-thread read bandwidth "
                             f"({bandwidth['read_gbps']:.0f} GB/s)")
        ax.set_xticks(x, [format_shape(r["shape"]) for r in rows])
        ax.set_yscale("log")  # spans tiny-shape overhead to near-roofline
        ax.set_ylabel("GB/s")
        ax.set_title(f"{op} ({rows[0]['dtype']}, {_threads(rows[0]['threads'])})",
                     fontsize="medium")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 3), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.8 / fig.get_figheight()))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def format_memory_table(memory: JSONDict) -> str:
    """The ``--memory`` table: the peak extra resident memory of one call, per
    op and shape (rows) and implementation (columns), in MiB."""
    rows: dict[tuple[str, tuple[int, ...]], dict[str, int | None]] = {}
    impls: list[str] = []
    for r in memory["results"]:
        rows.setdefault((r["op"], tuple(r["shape"])), {})[r["impl"]] = r["peak_extra"]
        if r["impl"] not in impls:
            impls.append(r["impl"])
    lines = [f"peak extra memory of one call ({memory['dtype']}; MiB of resident memory "
             "above the inputs and a warm-up call's, a fresh process per call; a result "
             "counts unless it reuses freed memory, as fastsoftmax's output pool does)",
             f"{'op':<24}{'shape':>14}" + "".join(f"{i:>16}" for i in impls)]
    for (op, shape), by_impl in rows.items():
        cells = []
        for i in impls:
            v = by_impl.get(i)
            cells.append("-" if v is None else f"{v / 2**20:.1f}")
        lines.append(f"{op:<24}{format_shape(shape):>14}" + "".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)
