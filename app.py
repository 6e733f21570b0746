"""mmdemo entry point: ``python app.py --help``. Models load on first use, not here (see mmdemo/launcher.py)."""

import sys


def main() -> int:
    # First, before anything imports torch or gradio: on a ZeroGPU Space `spaces` must patch torch now.
    from mmdemo.zerogpu import import_spaces_first

    import_spaces_first()
    from mmdemo.launcher import main as launch

    return launch()


if __name__ == "__main__":
    sys.exit(main())
