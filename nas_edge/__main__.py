"""``python -m nas_edge ...`` runs the ``nas-edge`` command line (what ``torchrun -m nas_edge`` needs)."""

from nas_edge.cli import main

if __name__ == "__main__":
    main()
