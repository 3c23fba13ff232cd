"""Record what PyTorch prints for each beginner script here, into expected/<name>.txt.

Run it with a Python that has PyTorch (CPU) installed, from anywhere:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    /tmp/torchenv/bin/python tests/pytorch_scripts/record.py

tests/test_pytorch_tutorials.py runs the same scripts on DeepGrad and compares the numbers with these files.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def scripts() -> list[str]:
    return sorted(f[:-3] for f in os.listdir(HERE) if f.endswith(".py") and f != "record.py")


def run(name: str, python: str = sys.executable, prelude: str = "") -> str:
    """What the script prints (stdout), run in a fresh process from a scratch folder."""
    code = f"{prelude}import runpy; runpy.run_path({os.path.join(HERE, name + '.py')!r}, run_name='__main__')"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=600, env=env,
                          cwd=os.path.dirname(HERE))
    if done.returncode:
        raise RuntimeError(f"{name}.py failed:\n{done.stderr[-3000:]}")
    return done.stdout


if __name__ == "__main__":
    import torch
    os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
    for name in scripts():
        with open(os.path.join(HERE, "expected", name + ".txt"), "w") as f:
            f.write(f"# recorded with torch {torch.__version__}\n" + run(name))
        print("recorded", name)
