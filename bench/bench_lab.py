"""The student's lab in Chromium, under load: each lesson's Run All, each explorer's reaction. Prints, never asserts.

    python bench/bench_lab.py lessons                     # every lesson, Run All in full mode
    python bench/bench_lab.py lessons 05 12 --load 6      # two lessons, six busy processes beside the lab
    python bench/bench_lab.py widgets 06 11 --moves 4     # the explorers of lessons 06 and 11
    python bench/bench_lab.py lessons 00 --fast           # a smoke test (DEEPGRAD_FAST=1: the lessons' short runs)
    python bench/bench_lab.py both --json lab.json        # both measurements (the default), figures also as JSON

The lab is started exactly as `make lab` starts it (tests/browser_lab.py, shared with the browser tests): its
Jupyter configuration from labs/, `labs/copy_work.py` into a temporary WORK, one BLAS thread in its kernels, on
a free port; headless Chromium (Debian's, /usr/bin/chromium) drives it with Playwright, one page per lesson.

lessons: opens each lesson, waits for its kernel, chooses Run > Run All Cells and times until every code cell
shows its execution count and the kernel is idle (or Run All stopped at a cell that raised). Reported: the
time to open (page to idle kernel), the Run All time, cells run, outputs showing an error (a traceback, or
"Error displaying widget").

widgets: runs each lesson that shows an explorer (the code cells calling a function of ``deepgrad.widgets``),
then moves every enabled control of every explorer ``--moves`` times with real input events: a slider's handle
by one arrow key press, a dropdown's next option, a toggle button's next option, a checkbox click. Timed in the
page: from the input event's timestamp (the first keydown, pointerdown, input or change event after arming)
to each change of the explorer's image (a MutationObserver on the ``src`` of its ``<img class="dg-figure">``,
installed before the event), both on ``performance.now()``'s clock. "first" is the first new image, "final"
the last one before the image stays unchanged for ``--settle`` seconds (explorers that train stream several).
Moves are spaced so that each starts on a settled picture. A control that shows no new image within
``--frame-timeout`` seconds (one that takes effect at a button's press) is reported once and left. The first
frame's time is split in two (medians printed): "page ms", the browser's share (the event to the first
WebSocket message sent, plus the last message received to the new image), and "srv+kernel", the rest
(Jupyter's server, the kernel's handler and its PNG; `bench/bench_widgets.py` times the handler alone).

--load N keeps N busy processes (pure-Python spin loops, or NumPy products with ``--load-kind numpy``, each at
nice 0 like a student's other programs) running from ``--warmup`` seconds before the first measurement to the
end; the 1-minute load average is printed before and after each measurement. The goals (issue 26): every
lesson within 60 s at a load of 8 on 2 cores; every explorer's median first frame within 100 ms at a load of 4.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

SPIN = {"python": "while True: pass",
        "numpy": "import numpy as np\na = np.random.default_rng(0).random((256, 256))\nwhile True: a @ a"}

# Installed once per page: the time of the first input event after arming, and the times the image of the
# explorer under watch changed (performance.now(): the clock of event.timeStamp).
PAGE_PROBE = r"""() => {
  if (window.__dgBench) return;
  const b = window.__dgBench = {armed: false, t0: null, frames: [], target: null};
  for (const type of ['keydown', 'pointerdown', 'mousedown', 'input', 'change'])
    document.addEventListener(type, e => { if (b.armed) { b.t0 = e.timeStamp; b.armed = false; } }, true);
  new MutationObserver(ms => {
    const t = performance.now();
    if (b.target && ms.some(m => b.target.contains(m.target) && m.target.classList.contains('dg-figure')))
      b.frames.push(t);
  }).observe(document.body, {attributes: true, attributeFilter: ['src'], subtree: true});
}"""


# Installed before the lab's scripts load: when each WebSocket message left and arrived, so that a move's time
# splits into the page's share (event to the first message sent, last message received to the new image) and
# the rest (the server and the kernel: the message sent to the last one received before the image).
NET_PROBE = r"""(() => {
  const net = window.__dgNet = {sent: [], received: []};
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) { net.sent.push(performance.now()); return send.call(this, data); };
  window.WebSocket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => net.received.push(performance.now()));
    }
  };
})()"""


def lessons_named(names: list[str]) -> list[str]:
    """course/NN_*.ipynb file names for ``names`` ("05", "5", "05_neural_networks"); all when empty."""
    every = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "course", "[0-9][0-9]_*.ipynb")))
    if not names:
        return every
    chosen = []
    for name in names:
        found = [f for f in every if f.startswith(name.zfill(2) if name.isdigit() else name)]
        if not found:
            sys.exit(f"bench_lab.py: no lesson {name!r} in course/ (lessons: {', '.join(f[:2] for f in every)})")
        chosen += found
    return chosen


def explorers_in(lesson: str) -> list[tuple[int, str]]:
    """(index among the lesson's cells, explorer name) for each code cell that shows an explorer of
    ``deepgrad.widgets`` (the last explorer its code calls: the one it displays)."""
    from deepgrad import widgets

    call = re.compile(r"\b(" + "|".join(widgets.__all__) + r")\(")
    cells = json.load(open(os.path.join(ROOT, "course", lesson), encoding="utf-8"))["cells"]
    found = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            code = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith("#"))
            names = call.findall(code)
            if names:
                found.append((i, names[-1]))
    return found


# ------------------------------------------------------------------------------------------------ the machine
def load1() -> float:
    return os.getloadavg()[0]


def start_load(n: int, kind: str) -> list[subprocess.Popen]:
    """``n`` busy processes at nice 0, one BLAS thread each."""
    def nice0():
        try:
            os.setpriority(os.PRIO_PROCESS, 0, 0)
        except PermissionError:
            pass  # already at the niceness this bench runs at
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return [subprocess.Popen([sys.executable, "-c", SPIN[kind]], env=env, preexec_fn=nice0,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]


def stop_load(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def machine() -> dict:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cores": os.cpu_count(), "cpu": model or platform.processor(), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


# ------------------------------------------------------------------------------------------------ lessons
def run_lesson(page, lab, lesson: str, timeout: float) -> dict:
    """Open ``lesson`` in ``page``, Run All; returns its figures."""
    import browser_lab

    row = {"lesson": lesson, "load_before": round(load1(), 2)}
    start = time.perf_counter()
    browser_lab.open_notebook(page, lab, f"course/{lesson}", timeout=180)
    row["open_s"] = round(time.perf_counter() - start, 2)
    row["kernel_threads"] = kernel_threads(lab)
    page.evaluate(PAGE_PROBE)
    start = time.perf_counter()
    browser_lab.click_run_all(page)
    try:
        browser_lab.wait_all_ran(page, timeout=timeout)
        row["stopped"] = ""
    except AssertionError as exc:
        row["stopped"] = str(exc).splitlines()[0].split(";")[0]
    row["run_all_s"] = round(time.perf_counter() - start, 2)
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
    row["cells"] = len(prompts)
    row["cells_run"] = sum(bool(re.search(r"\[\d+\]", p)) for p in prompts)
    outputs = page.locator(".jp-OutputArea-output")
    shown = outputs.filter(has_text=re.compile("Traceback|Error displaying widget"))
    row["errors"] = shown.count()
    # the error's own line (``ValueError: ...``), the last line of the first output showing one
    row["first_error"] = (shown.first.inner_text().strip().splitlines() or [""])[-1][:160] if row["errors"] else ""
    row["load_after"] = round(load1(), 2)
    return row


def in_lesson(browser, lab, lesson: str, timeout: float, then=None) -> dict | None:
    """Run ``lesson`` in a new page, then ``then(page)`` unless Run All stopped; returns the lesson's figures.
    The page is closed and its kernel shut down after, whatever happened; a failure is printed, and leaves out
    the figures it did not reach."""
    import browser_lab

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(NET_PROBE)
    row = None
    try:
        row = run_lesson(page, lab, lesson, timeout)
        if then is not None:
            if row["stopped"]:
                print(f"{lesson}: {row['stopped']}: its explorers are not measured")
            else:
                then(page)
    except Exception as exc:                     # one lesson's failure does not lose the others' figures
        print(f"{lesson}: the bench failed here: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}")
        traceback.print_exc()
    finally:
        page.close()
        browser_lab.delete_sessions(lab.base, lab.token)
    return row


LESSON_HEAD = (f"{'lesson':28} {'open s':>7} {'Run All s':>10} {'cells run':>10} {'errors':>7} {'load before':>12} "
               f"{'load after':>11}")


def print_lesson(row: dict) -> None:
    note = "  " + "; ".join(x for x in (row["stopped"], row["first_error"]) if x)
    print(f"{row['lesson'][:-6]:28} {row['open_s']:7.1f} {row['run_all_s']:10.1f} "
          f"{row['cells_run']:>4} / {row['cells']:<3} {row['errors']:7} {row['load_before']:12.2f} "
          f"{row['load_after']:11.2f}{note}", flush=True)


# ------------------------------------------------------------------------------------------------ widgets
def _controls(explorer) -> list[tuple[str, str, object]]:
    """(kind, label, element) for each enabled control of the explorer, in page order."""
    found = []
    for kind, selector in (("slider", ".widget-slider"), ("toggle", ".widget-toggle-buttons"),
                           ("dropdown", ".widget-dropdown"), ("select", ".widget-select-multiple"),
                           ("checkbox", ".widget-checkbox")):
        for el in explorer.locator(selector).all():
            disabled = el.locator("[disabled], .noUi-target[disabled], input:disabled, select:disabled").count()
            if kind == "toggle":
                disabled = el.locator("button:enabled").count() == 0
            if disabled or not el.is_visible():
                continue
            label = " ".join(el.inner_text().split()) if kind == "checkbox" else \
                " ".join(el.locator(".widget-label").first.inner_text().split())
            found.append((kind, label.replace("\u200b", "").strip()[:26], el))
    return found


def _act(page, kind: str, el, key: str) -> None:
    """One input event on a control (``key``: the arrow key for a slider)."""
    if kind in ("dropdown", "select") and el.locator("select:disabled").count():
        raise RuntimeError("the explorer disabled it since")  # e.g. the activation of a linear model
    if kind == "slider":
        el.locator(".noUi-handle").first.press(key, timeout=5000)
    elif kind == "dropdown":
        select = el.locator("select").first
        n = select.locator("option").count()
        select.select_option(index=(select.evaluate("s => s.selectedIndex") + 1) % n, timeout=5000)
    elif kind == "select":
        select = el.locator("select").first
        n = select.locator("option").count()
        chosen = select.evaluate("s => [...s.options].filter(o => o.selected).length")
        select.select_option(index=[0] if chosen == n else list(range(n)), timeout=5000)
    elif kind == "toggle":
        buttons = el.locator("button")
        states = buttons.evaluate_all("bs => bs.map(b => [b.className.includes('mod-active'), b.disabled])")
        now = next((i for i, (active, _) in enumerate(states) if active), -1)
        nxt = next((i % len(states) for i in range(now + 1, now + 1 + len(states))
                    if not states[i % len(states)][1] and i % len(states) != now), None)
        if nxt is None:  # the explorer disabled it since (e.g. "differentiate by" for a layer without weights)
            raise RuntimeError("no other option is enabled now")
        buttons.nth(nxt).click(timeout=5000)
    elif kind == "checkbox":
        el.locator("input").first.click(timeout=5000)


def _slider_key(el) -> str:
    """Towards the side of the track with more room."""
    handle = el.locator(".noUi-handle").first
    lo, hi, now = (float(handle.get_attribute(a) or 0) for a in ("aria-valuemin", "aria-valuemax", "aria-valuenow"))
    return "ArrowLeft" if now - lo > hi - now else "ArrowRight"


def _settle(page, settle: float, cap: float) -> None:
    """Until the watched image has not changed for ``settle`` seconds (at most ``cap`` seconds)."""
    end = time.time() + cap
    while time.time() < end:
        quiet = page.evaluate("() => { const f = window.__dgBench.frames; "
                              "return performance.now() - (f.length ? f[f.length - 1] : 0); }")
        if quiet >= settle * 1000:
            return
        page.wait_for_timeout(min(250, settle * 1000 - quiet + 20))


def time_move(page, kind: str, el, key: str, frame_timeout: float, settle: float) -> dict | None:
    """First and final new image after one input event, in ms; None when no new image came."""
    page.evaluate("() => { const b = window.__dgBench; b.frames = []; b.t0 = null; b.armed = true; "
                  "window.__dgNet.sent = []; window.__dgNet.received = []; }")
    try:
        _act(page, kind, el, key)
    except Exception as exc:                     # e.g. a control the explorer disabled while it trains
        print(f"  could not move {kind}: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}")
        page.evaluate("() => { window.__dgBench.armed = false; }")
        return None
    try:
        page.wait_for_function("() => window.__dgBench.frames.length > 0", timeout=frame_timeout * 1000)
    except Exception:
        page.evaluate("() => { window.__dgBench.armed = false; }")
        return None
    _settle(page, settle, cap=120)
    t0, frames, sent, received = page.evaluate(
        "() => [window.__dgBench.t0, window.__dgBench.frames, window.__dgNet.sent, window.__dgNet.received]")
    if t0 is None:
        return None
    move = {"first_ms": round(frames[0] - t0, 1), "final_ms": round(frames[-1] - t0, 1), "frames": len(frames)}
    out = next((t for t in sent if t >= t0), None)
    back = max((t for t in received if out is not None and out <= t <= frames[0]), default=None)
    if back is not None:
        move["page_ms"] = round((out - t0) + (frames[0] - back), 1)
        move["server_kernel_ms"] = round(back - out, 1)
    return move


def measure_explorers(page, lesson: str, moves: int, frame_timeout: float, settle: float, rows: list) -> None:
    """Each explorer of ``lesson`` (run in ``page``), its figures appended to ``rows`` as soon as measured."""
    cells = page.locator(".jp-Notebook .jp-Cell")
    for index, name in explorers_in(lesson):
        explorer = cells.nth(index).locator(".dg-explorer").first
        explorer.wait_for(timeout=60_000)
        explorer.scroll_into_view_if_needed()
        page.evaluate("el => { window.__dgBench.target = el; window.__dgBench.frames = []; }",
                      explorer.element_handle())
        explorer.locator(".dg-figure").first.wait_for(timeout=60_000)
        _settle(page, settle, cap=120)              # an explorer that trains shows its first run first
        row = {"lesson": lesson, "explorer": name, "cell": index, "load_before": round(load1(), 2), "controls": []}
        for kind, label, el in _controls(explorer):
            key = _slider_key(el) if kind == "slider" else ""
            times = []
            for _ in range(moves):
                t = time_move(page, kind, el, key, frame_timeout, settle)
                if t is None:
                    break
                times.append(t)
            row["controls"].append({"control": label, "kind": kind, "moves": times,
                                    "no_new_image": len(times) < moves})
        row["load_after"] = round(load1(), 2)
        rows.append(row)
        print_explorer(row)


def _stats(values: list[float]) -> str:
    return f"{statistics.median(values):7.0f} {max(values):6.0f}" if values else f"{'-':>7} {'-':>6}"


SPLIT_HEAD = f"{'page ms':>8} {'srv+kernel':>10}"  # medians of the first frame's split (NET_PROBE)


def _split(moves: list[dict]) -> str:
    page = [m["page_ms"] for m in moves if "page_ms" in m]
    rest = [m["server_kernel_ms"] for m in moves if "server_kernel_ms" in m]
    return f"{statistics.median(page):8.0f} {statistics.median(rest):10.0f}" if page else f"{'-':>8} {'-':>10}"


def print_explorer(row: dict) -> None:
    print(f"\n{row['explorer']} (lesson {row['lesson'][:2]}, cell {row['cell']}), load {row['load_before']:.2f} "
          f"-> {row['load_after']:.2f}\n{'  control':30} {'moves':>5} {'first frame ms':>15} {'final ms':>15} "
          f"{'images':>7} {SPLIT_HEAD}\n{'':30} {'':5} {'median   max':>15} {'median   max':>15}")
    for c in row["controls"]:
        first = [m["first_ms"] for m in c["moves"]]
        final = [m["final_ms"] for m in c["moves"]]
        frames = [m["frames"] for m in c["moves"]]
        note = "  (no new image: takes effect at a button's press?)" if c["no_new_image"] and not first else (
            "  (a move showed no new image)" if c["no_new_image"] else "")
        print(f"  {c['control']:28} {len(first):5} {_stats(first):>15} {_stats(final):>15} "
              f"{max(frames, default=0):7} {_split(c['moves'])}{note}", flush=True)


def print_widgets(rows: list[dict], head: str) -> None:
    print(f"\n{head}\n{'explorer (all its controls)':40} {'moves':>5} {'first frame ms':>15} {'final ms':>15} "
          f"{SPLIT_HEAD} {'load':>12}\n{'':40} {'':5} {'median   max':>15} {'median   max':>15}")
    for r in rows:
        moves = [m for c in r["controls"] for m in c["moves"]]
        first, final = [m["first_ms"] for m in moves], [m["final_ms"] for m in moves]
        print(f"{r['explorer'] + ' (' + r['lesson'][:2] + ')':40} {len(moves):5} {_stats(first):>15} "
              f"{_stats(final):>15} {_split(moves)} {r['load_before']:5.2f}-{r['load_after']:<5.2f}")


# ------------------------------------------------------------------------------------------------ main
def kernel_threads(lab) -> dict:
    """The BLAS thread settings of the lab's kernel (`make lab` sets one thread)."""
    import browser_lab

    env = browser_lab.kernel_environ(lab.proc)
    return {k: env.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def main(argv=()) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("what", nargs="?", choices=("lessons", "widgets", "both"), default="both",
                    help="what to measure (default both)")
    ap.add_argument("lessons", nargs="*", help="lessons by number or name (default: all; widgets: those with "
                                               "explorers)")
    ap.add_argument("--load", type=int, default=0, help="busy processes beside the lab (default 0)")
    ap.add_argument("--load-kind", choices=tuple(SPIN), default="python", help="their loop (default python)")
    ap.add_argument("--warmup", type=float, default=60,
                    help="seconds the load runs before the first measurement (default 60; 0 without --load)")
    ap.add_argument("--fast", action="store_true", help="DEEPGRAD_FAST=1 in the lab's kernels: a smoke test")
    ap.add_argument("--moves", type=int, default=3, help="input events per control (default 3)")
    ap.add_argument("--settle", type=float, default=1.5,
                    help="seconds without a new image that end a move (default 1.5)")
    ap.add_argument("--frame-timeout", type=float, default=10,
                    help="seconds to wait for a move's first new image (default 10)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds a lesson's Run All may take (default 900)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    args = ap.parse_args(list(argv))

    from conftest import browser_skip_reason

    reason = browser_skip_reason()
    if reason:
        print(f"bench_lab.py measures nothing: {reason.removeprefix('no browser test: ')}")
        return
    import browser_lab
    from playwright.sync_api import sync_playwright

    lessons = lessons_named(args.lessons)
    with_explorers = [lesson for lesson in lessons if explorers_in(lesson)]
    settings = {"mode": "fast (DEEPGRAD_FAST=1)" if args.fast else "full", "extra_load": args.load,
                "load_kind": args.load_kind, "moves": args.moves, "settle_s": args.settle}
    report = {"machine": machine(), "settings": settings, "lessons": [], "widgets": []}
    load = start_load(args.load, args.load_kind)
    try:
        if load and args.warmup:
            print(f"{args.load} busy processes started; load {load1():.2f}: waiting {args.warmup:.0f} s", flush=True)
            time.sleep(args.warmup)
        with browser_lab.student_lab(fast=args.fast, start_timeout=180) as lab, sync_playwright() as p:
            browser = browser_lab.launch(p)
            threads = {}
            m = report["machine"]
            m["chromium"] = browser.version
            head = (f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, Chromium {browser.version}; "
                    f"{args.load} extra {args.load_kind} processes; {settings['mode']} mode")
            print(head, flush=True)
            try:
                if args.what in ("lessons", "both"):
                    print(f"\n{LESSON_HEAD}")
                    for lesson in lessons:
                        row = in_lesson(browser, lab, lesson, args.timeout)
                        threads = threads or (row or {}).get("kernel_threads", {})
                        if row:
                            report["lessons"].append(row)
                            print_lesson(row)
                    print(f"\nRun All in the lab: {head}; the kernel's {threads}\n{LESSON_HEAD}")
                    for row in report["lessons"]:
                        print_lesson(row)
                if args.what in ("widgets", "both"):
                    for lesson in with_explorers:
                        row = in_lesson(browser, lab, lesson, args.timeout, then=lambda page, lesson=lesson:
                                        measure_explorers(page, lesson, args.moves, args.frame_timeout, args.settle,
                                                          report["widgets"]))
                        threads = threads or (row or {}).get("kernel_threads", {})
                    print_widgets(report["widgets"], f"Explorers in the lab, from the input event to the new "
                                                     f"image: {head}; the kernel's {threads}")
            finally:
                settings["kernel_threads"] = threads
                browser.close()
    finally:
        stop_load(load)
        report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
