"""Prompt Atelier entry point: reads configuration, wires the parts, launches.

python app.py                 start the web app
python app.py generate ...    generate headless (see --help)
"""

import sys

from ui.cli import main

if __name__ == "__main__":
    sys.exit(main())
