"""``python main.py ...``: the command line (see metaviz.cli)."""

# Before anything heavy is imported: Ctrl-C in the first seconds (while torch imports)
# is remembered and honoured once the command can stop cleanly (metaviz.interrupts).
# Guarded: worker processes (train --seeds, reproduce) re-import this file under another name.
if __name__ == "__main__":
    from metaviz import interrupts

    interrupts.defer()

    from metaviz.cli import main  # after the handler, on purpose

    main()
